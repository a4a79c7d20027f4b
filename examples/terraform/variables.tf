variable "worker_image" {
  description = "Worker image; pinned in place by tf-pin."
  type        = string
  default     = "ghcr.io/acme/worker:3.1"
}

variable "app_version" {
  description = "A bare tag, not a reference: tf-pin leaves it alone."
  type        = string
  default     = "v1.25.0"
}

variable "registry" {
  type    = string
  default = "registry.example.com"
}

module "worker" {
  source = "./modules/worker"
  image  = var.worker_image
}
