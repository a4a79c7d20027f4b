resource "aws_ecs_task_definition" "api" {
  family = "api"

  container_definitions = jsonencode([
    {
      name      = "api"
      image     = "registry.example.com/team/api:2.0"
      essential = true
    },
    {
      name  = "log-router"
      image = "registry.example.com/team/log-router:latest"
    },
  ])
}
