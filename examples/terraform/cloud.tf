resource "google_cloud_run_v2_service" "web" {
  name     = "web"
  location = "europe-west1"
  template {
    containers {
      image = "registry.example.com/team/web:1.0.3"
    }
  }
}

# A VM image is not a container image, even though "debian-cloud/debian-12" parses as one.
resource "google_compute_instance" "bastion" {
  name         = "bastion"
  machine_type = "e2-micro"
  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
    }
  }
  network_interface {
    network = "default"
  }
}

locals {
  # Interpolated: tf-pin cannot know the value, so it reports and skips it.
  sidecar = "${var.registry}/team/sidecar:${var.app_version}"

  agent_values = yamlencode({
    agent = {
      image = "registry.example.com/team/agent:0.9" # tf-pin:ignore (managed by another tool)
    }
  })
}
