# The problem tf-pin exists for: `:latest` with imagePullPolicy Always. The nodes pull
# through a registry mirror that caches by tag, so after a re-push they keep running the
# old build. Pinned to a digest, the mirror cannot serve anything else.
resource "kubernetes_deployment" "app" {
  metadata {
    name = "app"
  }

  spec {
    replicas = 3

    selector {
      match_labels = { app = "app" }
    }

    template {
      metadata {
        labels = { app = "app" }
      }

      spec {
        init_container {
          name    = "migrate"
          image   = "docker.io/acme/app-migrations:2.1"
          command = ["/migrate", "up"]
        }

        container {
          name              = "app"
          image             = "docker.io/acme/app:latest"
          image_pull_policy = "Always"

          port {
            container_port = 8080
          }
        }
      }
    }
  }
}

resource "kubernetes_cron_job_v1" "report" {
  metadata {
    name = "nightly-report"
  }
  spec {
    schedule = "0 3 * * *"
    job_template {
      metadata {}
      spec {
        template {
          metadata {}
          spec {
            container {
              name  = "report"
              image = "registry.example.com/team/report" # untagged: Docker pulls :latest
            }
          }
        }
      }
    }
  }
}
