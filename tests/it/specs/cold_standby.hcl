
region "eu-west-1" {
  role = "cold-standby"
  cidr = "10.2.0.0/16"
}
