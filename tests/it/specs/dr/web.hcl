
cluster "web" {
  size  = 4
  image = "ami-12c6146b"
  port  = 443
}
