variable "image" {
  type = string
}

resource "kubernetes_deployment" "worker" {
  metadata {
    name = "worker"
  }
  spec {
    selector {
      match_labels = { app = "worker" }
    }
    template {
      metadata {
        labels = { app = "worker" }
      }
      spec {
        container {
          name  = "worker"
          image = var.image
        }
      }
    }
  }
}
