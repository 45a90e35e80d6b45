
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
