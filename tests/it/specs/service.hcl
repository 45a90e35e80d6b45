
service "checkout" {
  rto = "15m"
  rpo = "5m"
}
