#!/usr/bin/env python3
"""Generate a tree of Terraform files for the `tf-pin rewrite --check --offline` benchmark.

Deterministic (fixed seed). Every container image reference is already pinned
(NAME:TAG@sha256:…), so `--check` has nothing to report and the run measures discovery,
parsing and scanning. The content varies the way real trees do: Kubernetes deployments
and cron jobs, docker_container / docker_image, ECS task definitions in jsonencode(),
Cloud Run, module inputs, image variables and locals (maps too), VM images that must be
skipped (google_compute_instance, aws_instance), interpolated images, helm values in
heredocs, comments, and plain infrastructure without any image.

  gen_tf.py DIR [--files 10000]     # prints "FILES BYTES"
"""

import argparse
import hashlib
import os
import random

REGISTRIES = [
    "docker.io/library", "ghcr.io/acme-corp", "123456789012.dkr.ecr.us-east-1.amazonaws.com/platform",
    "gcr.io/acme-prod", "europe-west1-docker.pkg.dev/acme-prod/services", "quay.io/acme",
    "registry.example.com:5000/team", "acme.azurecr.io/apps", "",
]
NAMES = ["api", "worker", "web", "gateway", "billing", "auth", "search", "ingest", "scheduler",
         "nginx", "redis", "postgres", "envoy", "otel-collector", "fluent-bit", "vault-agent"]
TAGS = ["1.25.3", "v2.14.0", "2024.11.02", "stable", "3.19", "v0.98.1-alpine", "7.2-bookworm",
        "16.4", "latest", "release-4821", "sha-9f3c2d1"]
ENVS = ["dev", "staging", "prod", "prod-eu", "prod-us", "sandbox"]


def image(rng: random.Random) -> str:
    registry = rng.choice(REGISTRIES)
    name = rng.choice(NAMES)
    repo = f"{registry}/{name}" if registry else name
    tag = rng.choice(TAGS)
    digest = hashlib.sha256(f"{repo}:{tag}".encode()).hexdigest()
    return f"{repo}:{tag}@sha256:{digest}"


def kubernetes_deployment(rng, n):
    containers = "".join(f"""
          container {{
            name  = "c{i}"
            image = "{image(rng)}"

            port {{
              container_port = {rng.choice([80, 8080, 9090, 3000])}
            }}

            resources {{
              limits = {{
                cpu    = "{rng.choice(['250m', '500m', '1'])}"
                memory = "{rng.choice(['256Mi', '512Mi', '1Gi'])}"
              }}
            }}
          }}
""" for i in range(rng.randint(1, 3)))
    return f"""resource "kubernetes_deployment" "app_{n}" {{
  metadata {{
    name      = "app-{n}"
    namespace = var.namespace
    labels = {{
      app = "app-{n}"
    }}
  }}

  spec {{
    replicas = {rng.randint(1, 6)}

    selector {{
      match_labels = {{
        app = "app-{n}"
      }}
    }}

    template {{
      metadata {{
        labels = {{
          app = "app-{n}"
        }}
      }}

      spec {{
        service_account_name = "app-{n}"
{containers}      }}
    }}
  }}
}}
"""


def cron_job(rng, n):
    return f"""resource "kubernetes_cron_job_v1" "job_{n}" {{
  metadata {{
    name = "job-{n}"
  }}
  spec {{
    schedule = "{rng.randint(0, 59)} */{rng.randint(1, 12)} * * *"
    job_template {{
      metadata {{}}
      spec {{
        template {{
          metadata {{}}
          spec {{
            container {{
              name    = "job"
              image   = "{image(rng)}" # tf-pin: pinned by CI
              command = ["/bin/run", "--once"]
            }}
          }}
        }}
      }}
    }}
  }}
}}
"""


def docker(rng, n):
    return f"""resource "docker_image" "img_{n}" {{
  name         = "{image(rng)}"
  keep_locally = true
}}

resource "docker_container" "ctr_{n}" {{
  name  = "ctr-{n}"
  image = docker_image.img_{n}.image_id

  ports {{
    internal = 8080
    external = {8000 + n % 1000}
  }}
}}
"""


def ecs(rng, n):
    return f"""resource "aws_ecs_task_definition" "svc_{n}" {{
  family                   = "svc-{n}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = {rng.choice([256, 512, 1024])}
  memory                   = {rng.choice([512, 1024, 2048])}

  container_definitions = jsonencode([
    {{
      name      = "app"
      image     = "{image(rng)}"
      essential = true
      portMappings = [{{ containerPort = 8080, hostPort = 8080 }}]
      environment = [
        {{ name = "ENV", value = "{rng.choice(ENVS)}" }},
      ]
    }},
    {{
      name      = "sidecar"
      image     = "{image(rng)}"
      essential = false
    }},
  ])
}}
"""


def cloud_run(rng, n):
    return f"""resource "google_cloud_run_v2_service" "run_{n}" {{
  name     = "run-{n}"
  location = "europe-west1"

  template {{
    containers {{
      image = "{image(rng)}"
      env {{
        name  = "LOG_LEVEL"
        value = "info"
      }}
    }}
    scaling {{
      max_instance_count = {rng.randint(2, 20)}
    }}
  }}
}}
"""


def module(rng, n):
    return f"""module "service_{n}" {{
  source  = "../../modules/service"
  name    = "service-{n}"
  image   = "{image(rng)}"
  env     = "{rng.choice(ENVS)}"
  replicas = {rng.randint(1, 4)}
}}
"""


def variables(rng, n):
    return f"""variable "app_image_{n}" {{
  type        = string
  description = "Container image for app {n}"
  default     = "{image(rng)}"
}}

variable "namespace_{n}" {{
  type    = string
  default = "team-{n % 37}"
}}

locals {{
  worker_image = "{image(rng)}"
  images = {{
    api     = "{image(rng)}"
    migrate = "{image(rng)}"
  }}
  tags = {{
    owner = "platform"
    env   = "{rng.choice(ENVS)}"
  }}
}}
"""


def vm(rng, n):
    return f"""resource "google_compute_instance" "vm_{n}" {{
  name         = "vm-{n}"
  machine_type = "e2-medium"
  zone         = "europe-west1-b"

  boot_disk {{
    initialize_params {{
      image = "debian-cloud/debian-12"
    }}
  }}

  network_interface {{
    network = "default"
  }}

  metadata = {{
    gce-container-declaration = yamlencode({{
      spec = {{
        containers = [{{ image = "{image(rng)}" }}]
      }}
    }})
  }}
}}

resource "aws_instance" "bastion_{n}" {{
  ami           = "ami-0abcdef1234567890"
  instance_type = "t3.micro"
}}
"""


def interpolated(rng, n):
    return f"""resource "kubernetes_pod" "dyn_{n}" {{
  metadata {{
    name = "dyn-{n}"
  }}
  spec {{
    container {{
      name  = "dyn"
      image = "${{var.registry}}/dyn:${{var.tag}}"
    }}
    container {{
      name  = "from-var"
      image = var.app_image_{n}
    }}
  }}
}}

resource "helm_release" "chart_{n}" {{
  name       = "chart-{n}"
  repository = "https://charts.example.com"
  chart      = "app"
  values = [<<-EOT
    image:
      repository: ghcr.io/acme-corp/app
      tag: "1.2.{n % 50}"
  EOT
  ]
}}
"""


def plain(rng, n):
    return f"""# Networking for stack {n}; no images here.
resource "aws_security_group" "sg_{n}" {{
  name        = "sg-{n}"
  description = "stack {n}"
  vpc_id      = var.vpc_id

  ingress {{
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.{n % 256}.0.0/16"]
  }}

  egress {{
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }}

  tags = {{
    Name = "sg-{n}"
  }}
}}

output "sg_{n}_id" {{
  value = aws_security_group.sg_{n}.id
}}
"""


BLOCKS = [kubernetes_deployment, cron_job, docker, ecs, cloud_run, module, variables, vm,
          interpolated, plain]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir")
    parser.add_argument("--files", type=int, default=10000)
    args = parser.parse_args()
    rng = random.Random(20241125)
    total = 0
    per_dir = 100
    for i in range(args.files):
        env = ENVS[(i // per_dir) % len(ENVS)]
        directory = os.path.join(args.dir, env, f"stack-{i // per_dir:03d}")
        if i % per_dir == 0:
            os.makedirs(directory, exist_ok=True)
        parts = [f"# Generated by scripts/bench.d/gen_tf.py — file {i}\n\n"]
        for k in range(rng.randint(1, 4)):
            parts.append(rng.choice(BLOCKS)(rng, i * 10 + k))
            parts.append("\n")
        data = "".join(parts).encode()
        with open(os.path.join(directory, f"f{i:05d}.tf"), "wb") as f:
            f.write(data)
        total += len(data)
    print(args.files, total)


if __name__ == "__main__":
    main()
