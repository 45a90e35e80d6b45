
database "orders" {
  engine         = "postgres"
  engine_version = "16.3"
  instance_class = "db.t3.micro"
}
