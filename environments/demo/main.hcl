# The demo environment: one service over three regions, one per role.

service "shop" {
  rto  = "15m"
  rpo  = "5m"
  tags = { team = "platform", cost-center = "demo" }
}

variable "ami" {
  type        = string
  default     = "ami-12c6146b"
  description = "machine image for the web cluster"
}

locals {
  web_port = 443
}

region "us-east-1" {
  role  = "primary"
  cidr  = "10.0.0.0/16"
  zones = ["us-east-1a", "us-east-1b"]
}

region "us-west-2" {
  role     = "warm-standby"
  cidr     = "10.1.0.0/16"
  capacity = 0.5
}

region "eu-west-1" {
  role = "cold-standby"
  cidr = "10.2.0.0/16"
}

cluster "web" {
  instance_type = "t3.micro"
  size          = 4
  image         = var.ami
  port          = local.web_port
}

module "workers" {
  source = "../../modules/worker-tier"
  image  = var.ami
  size   = 2
}

database "orders" {
  engine          = "postgres"
  engine_version  = "16.3"
  instance_class  = "db.t3.micro"
  storage_gb      = 20
  prevent_destroy = true
}

dns "api" {
  zone    = "shop.example.com"
  name    = "api.shop.example.com"
  cluster = cluster.web
  ttl     = 60
  health_check {
    path     = "/health"
    port     = 443
    protocol = "HTTPS"
  }
}

bucket "receipts" {
  cold_storage_class = "GLACIER"
}

output "primary_region" { value = "us-east-1" }
output "web_port" { value = local.web_port }
output "api" { value = dns.api.name }
