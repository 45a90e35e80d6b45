# One region of the layout: network, the web and worker clusters (security group, launch
# template, Auto Scaling group), the web cluster's load balancer where it serves, and the
# database (primary, cross-region read replica, or none).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "name" { type = string }
variable "cidr" { type = string }
variable "web_size" { type = number }
variable "worker_size" { type = number }
variable "full_size" { type = number }
variable "serving" { type = bool }
variable "ami" { type = string }
variable "database" { type = string }
variable "replica_of" {
  type    = string
  default = null
}

locals {
  zones = ["${var.name}a", "${var.name}b"]
}

resource "aws_vpc" "this" {
  cidr_block = var.cidr
  tags       = { Name = "shop-demo-vpc-${var.name}" }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "this" {
  count                   = 2
  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.zones[count.index]
  cidr_block              = cidrsubnet(var.cidr, 1, count.index)
  map_public_ip_on_launch = true
  depends_on              = [aws_internet_gateway.this]
}

resource "aws_security_group" "web" {
  name   = "shop-demo-web-${var.name}"
  vpc_id = aws_vpc.this.id
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "worker" {
  name   = "shop-demo-workers-worker-${var.name}"
  vpc_id = aws_vpc.this.id
  ingress {
    from_port   = 8080
    to_port     = 8080
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_launch_template" "web" {
  name                   = "shop-demo-web-${var.name}"
  image_id               = var.ami
  instance_type          = "t3.micro"
  vpc_security_group_ids = [aws_security_group.web.id]
  # moto 5.2.5 reports the provider's default tags as the template's tag specifications,
  # which Terraform would otherwise remove on every plan.
  lifecycle {
    ignore_changes = [tag_specifications]
  }
}

resource "aws_autoscaling_group" "web" {
  name                = "shop-demo-web-${var.name}"
  desired_capacity    = var.web_size
  min_size            = var.web_size
  max_size            = max(var.web_size, var.full_size)
  vpc_zone_identifier = aws_subnet.this[*].id
  target_group_arns   = var.serving ? [aws_lb_target_group.web[0].arn] : []
  launch_template {
    id      = aws_launch_template.web.id
    version = aws_launch_template.web.latest_version
  }
}

resource "aws_launch_template" "worker" {
  name                   = "shop-demo-workers-worker-${var.name}"
  image_id               = var.ami
  instance_type          = "t3.micro"
  vpc_security_group_ids = [aws_security_group.worker.id]
  # moto 5.2.5 reports the provider's default tags as the template's tag specifications,
  # which Terraform would otherwise remove on every plan.
  lifecycle {
    ignore_changes = [tag_specifications]
  }
}

resource "aws_autoscaling_group" "worker" {
  name                = "shop-demo-workers-worker-${var.name}"
  desired_capacity    = var.worker_size
  min_size            = var.worker_size
  max_size            = max(var.worker_size, 2)
  vpc_zone_identifier = aws_subnet.this[*].id
  launch_template {
    id      = aws_launch_template.worker.id
    version = aws_launch_template.worker.latest_version
  }
}

# The web cluster's load balancer where it serves (the primary and the warm standby):
# a plain HTTP listener on the cluster's port (HTTPS needs a certificate), a target group
# health-checked on HTTPS /health.
resource "aws_lb" "web" {
  count              = var.serving ? 1 : 0
  name               = "shop-demo-web-${var.name}"
  load_balancer_type = "application"
  subnets            = aws_subnet.this[*].id
  security_groups    = [aws_security_group.web.id]
}

resource "aws_lb_target_group" "web" {
  count    = var.serving ? 1 : 0
  name     = "shop-demo-web-${var.name}"
  port     = 443
  protocol = "HTTPS"
  vpc_id   = aws_vpc.this.id
  health_check {
    path     = "/health"
    port     = "443"
    protocol = "HTTPS"
  }
}

resource "aws_lb_listener" "web" {
  count             = var.serving ? 1 : 0
  load_balancer_arn = aws_lb.web[0].arn
  port              = 443
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web[0].arn
  }
}

resource "aws_db_subnet_group" "this" {
  count      = var.database == "none" ? 0 : 1
  name       = "shop-demo-db-${var.name}"
  subnet_ids = aws_subnet.this[*].id
}

resource "aws_security_group" "db" {
  count  = var.database == "none" ? 0 : 1
  name   = "shop-demo-orders-db-${var.name}"
  vpc_id = aws_vpc.this.id
  ingress {
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.web.id, aws_security_group.worker.id]
  }
}

resource "aws_db_instance" "orders" {
  count               = var.database == "none" ? 0 : 1
  identifier          = "shop-demo-orders-${var.name}"
  engine              = "postgres"
  engine_version      = "16.3"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  username            = var.database == "primary" && var.replica_of == null ? "standby" : null
  password            = var.database == "primary" && var.replica_of == null ? "not-a-real-password-1" : null
  replicate_source_db = var.database == "replica" ? var.replica_of : null
  # moto 5.2.5 looks a cross-region replica's subnet group up in the source region and
  # refuses it (standby works around it in src/provider/aws/emulator.rs, quirk 4); here the
  # replica goes without one, which only changes the VPC it lands in.
  db_subnet_group_name   = var.database == "replica" ? null : aws_db_subnet_group.this[0].name
  vpc_security_group_ids = [aws_security_group.db[0].id]
  publicly_accessible    = false
  skip_final_snapshot    = true
  lifecycle {
    ignore_changes = [engine_version]
  }
}

output "lb_dns_name" { value = var.serving ? aws_lb.web[0].dns_name : null }
output "lb_zone_id" { value = var.serving ? aws_lb.web[0].zone_id : null }
output "database_arn" {
  value = var.database == "none" ? null : aws_db_instance.orders[0].arn
}
