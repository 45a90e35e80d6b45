
dns "api" {
  zone    = "example.com"
  name    = "api.example.com"
  cluster = cluster.web
  ttl     = 60
  health_check {
    path     = "/health"
    port     = 443
    protocol = "HTTPS"
  }
}
