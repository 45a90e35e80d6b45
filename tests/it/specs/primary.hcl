
region "us-east-1" {
  role = "primary"
  cidr = "10.0.0.0/16"
}
