# tf-pin as a Terraform `external` data source: every `terraform plan` resolves the tags
# below to the digests the registry serves right now, so a pull-through mirror on the
# nodes can never hand out a stale build of a re-pushed tag.

terraform {
  required_providers {
    external   = { source = "hashicorp/external", version = "~> 2.3" }
    kubernetes = { source = "hashicorp/kubernetes", version = "~> 2.30" }
    docker     = { source = "kreuzwerker/docker", version = "~> 3.0" }
  }
}

variable "registry" {
  description = "Registry that holds the application images."
  type        = string
  default     = "registry.example.com"
}

data "external" "images" {
  # Shared options go after `external`, e.g. "--platform", "linux/amd64" or "--strip-tag".
  program = ["tf-pin", "external"]
  query = {
    app    = "${var.registry}/team/app:latest"
    worker = "ghcr.io/org/worker:1.4"
  }
}

resource "kubernetes_deployment" "app" {
  metadata {
    name = "app"
  }
  spec {
    replicas = 2
    selector {
      match_labels = { app = "app" }
    }
    template {
      metadata {
        labels = { app = "app" }
      }
      spec {
        container {
          name = "app"
          # registry.example.com/team/app:latest@sha256:… — a new digest is a new pod spec,
          # so Kubernetes rolls the deployment when the tag moves.
          image             = data.external.images.result.app
          image_pull_policy = "IfNotPresent"
        }
        container {
          name  = "worker"
          image = data.external.images.result.worker
        }
      }
    }
  }
}

# The same with the kreuzwerker/docker provider.
resource "docker_container" "worker" {
  name  = "worker"
  image = data.external.images.result.worker
}
