# One region of the layout: network, the web and worker clusters' security groups and
# instances, and the database (primary, cross-region read replica, or none).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "name" { type = string }
variable "cidr" { type = string }
variable "web_size" { type = number }
variable "worker_size" { type = number }
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

resource "aws_instance" "web" {
  count                  = var.web_size
  ami                    = var.ami
  instance_type          = "t3.micro"
  subnet_id              = aws_subnet.this[count.index % 2].id
  vpc_security_group_ids = [aws_security_group.web.id]
  tags                   = { Name = "shop-demo-web-${var.name}-${count.index}" }
}

resource "aws_instance" "worker" {
  count                  = var.worker_size
  ami                    = var.ami
  instance_type          = "t3.micro"
  subnet_id              = aws_subnet.this[count.index % 2].id
  vpc_security_group_ids = [aws_security_group.worker.id]
  tags                   = { Name = "shop-demo-workers-worker-${var.name}-${count.index}" }
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

output "web_ips" { value = aws_instance.web[*].public_ip }
output "database_arn" {
  value = var.database == "none" ? null : aws_db_instance.orders[0].arn
}
