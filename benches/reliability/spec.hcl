service "checkout" {
  rto = "15m"
  rpo = "5m"
}

region "us-east-1" {
  role = "primary"
  cidr = "10.0.0.0/16"
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
  size  = 4
  image = "ami-12c6146b"
  port  = 443
}

database "orders" {
  engine         = "postgres"
  engine_version = "16.3"
  instance_class = "db.t3.micro"
}

bucket "receipts" {}

dns "api" {
  zone    = "example.com"
  name    = "api.example.com"
  cluster = cluster.web
  health_check {
    path     = "/health"
    protocol = "HTTPS"
  }
}
