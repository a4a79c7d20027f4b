# kreuzwerker/docker: the image name itself is the reference.
data "docker_registry_image" "proxy" {
  name = "registry.example.com/team/proxy:1.25"
}

resource "docker_image" "proxy" {
  name          = "registry.example.com/team/proxy:1.25"
  pull_triggers = [data.docker_registry_image.proxy.sha256_digest]
}

resource "docker_container" "proxy" {
  name  = "proxy"
  image = docker_image.proxy.image_id # a reference, not a literal: left alone
}
