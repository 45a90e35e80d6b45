# A pool of background workers: instantiate with `module "x" { source = ".../worker-tier" }`.

variable "image" {
  type        = string
  description = "machine image for the workers"
}

variable "size" {
  type    = number
  default = 2
}

variable "instance_type" {
  type    = string
  default = "t3.micro"
}

cluster "worker" {
  instance_type = var.instance_type
  size          = var.size
  image         = var.image
  port          = 8080
}

output "cluster" { value = cluster.worker.name }
