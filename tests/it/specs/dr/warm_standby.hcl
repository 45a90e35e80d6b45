
region "us-west-2" {
  role     = "warm-standby"
  cidr     = "10.1.0.0/16"
  capacity = 0.5
}
