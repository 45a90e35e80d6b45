# The layout standby builds from environments/demo, written as a Terraform user would: one
# provider per region, the same VPCs, subnets, gateways, security groups, launch templates and
# Auto Scaling groups (the cold standby's at 0), a load balancer per serving region, the
# database and its cross-region read replica, versioned encrypted buckets replicating from the
# primary, and Route 53 failover alias records to the load balancers. Run by benches/vs_terraform against the same
# moto through the same proxy as standby (the endpoint comes from AWS_ENDPOINT_URL).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

variable "web_size" {
  type        = number
  default     = 4
  description = "instances of the web cluster in the primary; the warm standby runs half"
}

variable "failover" {
  type        = bool
  default     = false
  description = "promote us-west-2: Terraform's way is a variable (replica promoted, warm at full size, DNS and replication flipped)"
}

locals {
  ami  = "ami-12c6146b"
  tags = { team = "platform", cost-center = "demo" }
  warm = var.failover ? var.web_size : ceil(var.web_size * 0.5)
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  default_tags { tags = local.tags }
}

provider "aws" {
  alias                       = "west"
  region                      = "us-west-2"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  default_tags { tags = local.tags }
}

provider "aws" {
  alias                       = "eu"
  region                      = "eu-west-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  default_tags { tags = local.tags }
}

module "us_east_1" {
  source      = "./region"
  name        = "us-east-1"
  cidr        = "10.0.0.0/16"
  web_size    = var.web_size
  worker_size = 2
  ami         = local.ami
  database    = "primary"
  full_size   = var.web_size
  serving     = true
  providers   = { aws = aws }
}

module "us_west_2" {
  source      = "./region"
  name        = "us-west-2"
  cidr        = "10.1.0.0/16"
  web_size    = local.warm
  worker_size = var.failover ? 2 : 1
  ami         = local.ami
  database    = var.failover ? "primary" : "replica"
  replica_of  = module.us_east_1.database_arn
  full_size   = var.web_size
  serving     = true
  providers   = { aws = aws.west }
}

module "eu_west_1" {
  source      = "./region"
  name        = "eu-west-1"
  cidr        = "10.2.0.0/16"
  web_size    = 0
  worker_size = 0
  ami         = local.ami
  database    = "none"
  full_size   = var.web_size
  serving     = false
  providers   = { aws = aws.eu }
}

# Buckets: versioned and encrypted, public access blocked, replicated from the serving region
# to the others (GLACIER in the cold standby).

resource "aws_s3_bucket" "east" {
  bucket = "shop-demo-receipts-us-east-1"
}

resource "aws_s3_bucket" "west" {
  provider = aws.west
  bucket   = "shop-demo-receipts-us-west-2"
}

resource "aws_s3_bucket" "eu" {
  provider = aws.eu
  bucket   = "shop-demo-receipts-eu-west-1"
}

resource "aws_s3_bucket_versioning" "east" {
  bucket = aws_s3_bucket.east.id
  versioning_configuration { status = "Enabled" }
}

resource "aws_s3_bucket_versioning" "west" {
  provider = aws.west
  bucket   = aws_s3_bucket.west.id
  versioning_configuration { status = "Enabled" }
}

resource "aws_s3_bucket_versioning" "eu" {
  provider = aws.eu
  bucket   = aws_s3_bucket.eu.id
  versioning_configuration { status = "Enabled" }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "east" {
  bucket = aws_s3_bucket.east.id
  rule {
    apply_server_side_encryption_by_default { sse_algorithm = "AES256" }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "west" {
  provider = aws.west
  bucket   = aws_s3_bucket.west.id
  rule {
    apply_server_side_encryption_by_default { sse_algorithm = "AES256" }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "eu" {
  provider = aws.eu
  bucket   = aws_s3_bucket.eu.id
  rule {
    apply_server_side_encryption_by_default { sse_algorithm = "AES256" }
  }
}

resource "aws_s3_bucket_public_access_block" "east" {
  bucket                  = aws_s3_bucket.east.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_public_access_block" "west" {
  provider                = aws.west
  bucket                  = aws_s3_bucket.west.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_public_access_block" "eu" {
  provider                = aws.eu
  bucket                  = aws_s3_bucket.eu.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_iam_role" "replication" {
  name = "standby-shop-demo-receipts-replication"
  path = "/standby/"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "s3.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy" "replication" {
  name = "replication"
  role = aws_iam_role.replication.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:GetReplicationConfiguration", "s3:ListBucket"], Resource = [aws_s3_bucket.east.arn, aws_s3_bucket.west.arn] },
      { Effect = "Allow", Action = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"], Resource = ["${aws_s3_bucket.east.arn}/*", "${aws_s3_bucket.west.arn}/*"] },
      { Effect = "Allow", Action = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], Resource = ["${aws_s3_bucket.east.arn}/*", "${aws_s3_bucket.west.arn}/*", "${aws_s3_bucket.eu.arn}/*"] },
    ]
  })
}

resource "aws_s3_bucket_replication_configuration" "serving" {
  provider   = aws.west
  count      = var.failover ? 1 : 0
  role       = aws_iam_role.replication.arn
  bucket     = aws_s3_bucket.west.id
  depends_on = [aws_s3_bucket_versioning.east, aws_s3_bucket_versioning.west, aws_s3_bucket_versioning.eu]
  rule {
    id       = "to-us-east-1"
    priority = 1
    status   = "Enabled"
    filter {}
    delete_marker_replication { status = "Disabled" }
    destination { bucket = aws_s3_bucket.east.arn }
  }
  rule {
    id       = "to-eu-west-1"
    priority = 2
    status   = "Enabled"
    filter {}
    delete_marker_replication { status = "Disabled" }
    destination {
      bucket        = aws_s3_bucket.eu.arn
      storage_class = "GLACIER"
    }
  }
}

resource "aws_s3_bucket_replication_configuration" "primary" {
  count      = var.failover ? 0 : 1
  role       = aws_iam_role.replication.arn
  bucket     = aws_s3_bucket.east.id
  depends_on = [aws_s3_bucket_versioning.east, aws_s3_bucket_versioning.west, aws_s3_bucket_versioning.eu]
  rule {
    id       = "to-us-west-2"
    priority = 1
    status   = "Enabled"
    filter {}
    delete_marker_replication { status = "Disabled" }
    destination { bucket = aws_s3_bucket.west.arn }
  }
  rule {
    id       = "to-eu-west-1"
    priority = 2
    status   = "Enabled"
    filter {}
    delete_marker_replication { status = "Disabled" }
    destination {
      bucket        = aws_s3_bucket.eu.arn
      storage_class = "GLACIER"
    }
  }
}

# DNS: a zone and failover alias records to each serving region's load balancer, failing
# over on the targets' health.

resource "aws_route53_zone" "shop" {
  name = "shop.example.com"
}

resource "aws_route53_record" "east" {
  zone_id        = aws_route53_zone.shop.zone_id
  name           = "api.shop.example.com"
  type           = "A"
  set_identifier = "us-east-1"
  alias {
    name                   = module.us_east_1.lb_dns_name
    zone_id                = module.us_east_1.lb_zone_id
    evaluate_target_health = true
  }
  failover_routing_policy {
    type = var.failover ? "SECONDARY" : "PRIMARY"
  }
}

resource "aws_route53_record" "west" {
  zone_id        = aws_route53_zone.shop.zone_id
  name           = "api.shop.example.com"
  type           = "A"
  set_identifier = "us-west-2"
  alias {
    name                   = module.us_west_2.lb_dns_name
    zone_id                = module.us_west_2.lb_zone_id
    evaluate_target_health = true
  }
  failover_routing_policy {
    type = var.failover ? "PRIMARY" : "SECONDARY"
  }
}
