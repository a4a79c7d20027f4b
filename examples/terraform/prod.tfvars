worker_image = "ghcr.io/acme/worker:3.1"
