//! Loading a full three-region environment with a module, and checking the typed `Spec`.

use standby::config::{load, ComponentName, Role, VarInputs};
use std::path::Path;
use std::time::Duration;

const MODULE: &str = r#"
variable "image" {
  type = string
}

variable "size" {
  type    = number
  default = 2
}

locals {
  port = 8080
}

cluster "web" {
  image = var.image
  size  = var.size
  port  = local.port
}

bucket "assets" {}

dns "internal" {
  zone    = "internal.example.com"
  name    = "web.internal.example.com"
  cluster = cluster.web
}

output "cluster_port" { value = cluster.web.port }
output "cluster" { value = cluster.web }
"#;

const MAIN: &str = r#"
# The checkout service — three regions.
service "checkout" {
  rto  = "15m"
  rpo  = "5m"
  tags = { team = "payments", cost_center = 42 }
}

standby {
  backend "s3" {
    bucket = "standby-state"
    key    = "prod.json"
    region = "us-east-1"
  }
}

variable "ami" {
  type        = string
  default     = "ami-0d27e0fb3bac4d724"
  description = "machine image for the web cluster"
}

variable "web_size" {
  type = number
}

locals {
  base_cidr = "10.0.0.0/8"
  name      = "${lower("API")}.${local.zone}"
  zone      = "example.com"
}

region "us-east-1" {
  role  = "primary"
  cidr  = cidrsubnet(local.base_cidr, 8, 0)
  zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

region "us-west-2" {
  role     = "warm-standby"
  cidr     = "10.1.0.0/16"
  capacity = 0.25
}

region "eu-west-1" {
  role = "cold-standby"
  cidr = "10.2.0.0/16"
  cluster "web" {
    image = "ami-0123456789abcdef0"
  }
}
"#;

const COMPONENTS: &str = r#"
cluster "web" {
  instance_type = "m6i.large"
  size          = var.web_size
  image         = var.ami
  port          = 443
}

database "orders" {
  engine          = "postgres"
  engine_version  = "16.3"
  instance_class  = "db.r6g.large"
  storage_gb      = 100
}

bucket "receipts" {
  cold_storage_class = "DEEP_ARCHIVE"
}

dns "api" {
  zone    = local.zone
  name    = local.name
  cluster = cluster.web
  ttl     = 30
  health_check {
    path     = "/health"
    protocol = "HTTPS"
  }
}

module "tier" {
  source = "../../modules/web-tier"
  image  = var.ami
}

output "api"   { value = dns.api.name }
output "port"  { value = module.tier.cluster_port }
output "motd"  { value = upper(file("motd.txt")) }
"#;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "modules/web-tier/main.hcl", MODULE);
    write(tmp.path(), "environments/prod/main.hcl", MAIN);
    write(tmp.path(), "environments/prod/components.hcl", COMPONENTS);
    write(tmp.path(), "environments/prod/motd.txt", "hello");
    tmp
}

#[test]
fn loads_a_three_region_environment_with_a_module() {
    let tmp = setup();
    let vars = VarInputs {
        cli: vec![("web_size".into(), "6".into())],
        ..VarInputs::default()
    };
    let spec = load(&tmp.path().join("environments/prod"), &vars).unwrap_or_else(|d| panic!("{d}"));

    assert_eq!(spec.environment, "prod");
    assert_eq!(spec.service.name, "checkout");
    assert_eq!(spec.service.rto, Duration::from_secs(15 * 60));
    assert_eq!(spec.service.rpo, Duration::from_secs(5 * 60));
    assert_eq!(
        spec.service.tags.get("cost_center").map(String::as_str),
        Some("42")
    );

    let regions: Vec<(&str, Role)> = spec
        .regions
        .iter()
        .map(|r| (r.name.as_str(), r.role))
        .collect();
    assert_eq!(
        regions,
        [
            ("us-east-1", Role::Primary),
            ("us-west-2", Role::WarmStandby),
            ("eu-west-1", Role::ColdStandby)
        ]
    );
    assert_eq!(spec.primary().cidr.to_string(), "10.0.0.0/16");
    assert_eq!(spec.primary().zones.len(), 3);
    let west = spec.region("us-west-2").unwrap();
    assert_eq!(west.zones, ["us-west-2a", "us-west-2b"]);
    assert_eq!(west.capacity, 0.25);
    assert_eq!(spec.region("eu-west-1").unwrap().capacity, 0.5);

    // Root cluster with the eu-west-1 override of its image.
    let web = spec
        .clusters
        .iter()
        .find(|c| c.name == ComponentName::root("web"))
        .unwrap();
    assert_eq!(web.settings.size, 6);
    assert_eq!(web.settings.image, "ami-0d27e0fb3bac4d724");
    assert_eq!(web.settings_in("eu-west-1").image, "ami-0123456789abcdef0");
    assert_eq!(web.settings_in("eu-west-1").size, 6);
    assert_eq!(web.settings_in("us-west-2").image, "ami-0d27e0fb3bac4d724");
    assert_eq!(web.per_region.keys().collect::<Vec<_>>(), ["eu-west-1"]);

    // Module components are named through the module.
    let tier = ComponentName {
        modules: vec!["tier".into()],
        name: "web".into(),
    };
    let tier_web = spec.clusters.iter().find(|c| c.name == tier).unwrap();
    assert_eq!(tier_web.settings.size, 2);
    assert_eq!(tier_web.settings.port, 8080);
    assert_eq!(tier_web.settings.instance_type, "t3.micro");
    assert_eq!(
        tier.address(None, "cluster").as_str(),
        "module.tier.cluster.web"
    );
    assert!(spec
        .buckets
        .iter()
        .any(|b| b.name.address(None, "bucket").as_str() == "module.tier.bucket.assets"));

    // DNS references the cluster of its own scope.
    let api = spec
        .dns
        .iter()
        .find(|d| d.name == ComponentName::root("api"))
        .unwrap();
    assert_eq!(api.settings.cluster, ComponentName::root("web"));
    assert_eq!(api.settings.name, "api.example.com");
    assert_eq!(api.settings.ttl, 30);
    let hc = api.settings.health_check.as_ref().unwrap();
    assert_eq!(
        (hc.path.as_str(), hc.port, hc.protocol.as_str()),
        ("/health", 443, "HTTPS")
    );
    let internal = spec.dns.iter().find(|d| d.name.name == "internal").unwrap();
    assert_eq!(internal.settings.cluster, tier);
    assert_eq!(internal.settings.ttl, 60);

    let orders = &spec.databases[0];
    assert_eq!(orders.settings.engine_version, "16.3");
    assert!(orders.settings.prevent_destroy);
    let receipts = spec
        .buckets
        .iter()
        .find(|b| b.name.name == "receipts")
        .unwrap();
    assert_eq!(receipts.settings.cold_storage_class, "DEEP_ARCHIVE");
    let assets = spec
        .buckets
        .iter()
        .find(|b| b.name.name == "assets")
        .unwrap();
    assert_eq!(assets.settings.cold_storage_class, "GLACIER");
    assert_eq!(assets.settings.replication_role_arn, None);

    assert_eq!(spec.outputs["api"], serde_json::json!("api.example.com"));
    assert_eq!(spec.outputs["port"], serde_json::json!(8080));
    assert_eq!(spec.outputs["motd"], serde_json::json!("HELLO"));

    let backend = spec.backend.unwrap();
    assert_eq!(
        (backend.bucket.as_str(), backend.key.as_str()),
        ("standby-state", "prod.json")
    );
    assert_eq!(backend.kms_key_id, None);
}

#[test]
fn variable_sources_take_precedence_env_then_files_then_cli() {
    let tmp = setup();
    write(tmp.path(), "one.hcl", "web_size = 3\nami = \"ami-file\"\n");
    let env_dir = tmp.path().join("environments/prod");
    let size = |vars: VarInputs| {
        let spec = load(&env_dir, &vars).unwrap_or_else(|d| panic!("{d}"));
        let web = spec
            .clusters
            .into_iter()
            .find(|c| c.name == ComponentName::root("web"))
            .unwrap();
        (web.settings.size, web.settings.image)
    };
    let env = vec![("web_size".to_string(), "1".to_string())];
    assert_eq!(
        size(VarInputs {
            env: env.clone(),
            ..Default::default()
        }),
        (1, "ami-0d27e0fb3bac4d724".into())
    );
    let files = vec![tmp.path().join("one.hcl")];
    assert_eq!(
        size(VarInputs {
            env: env.clone(),
            files: files.clone(),
            ..Default::default()
        }),
        (3, "ami-file".into())
    );
    let cli = vec![("web_size".to_string(), "5".to_string())];
    assert_eq!(size(VarInputs { env, files, cli }), (5, "ami-file".into()));
}

#[test]
fn file_order_does_not_matter_and_dot_names_the_environment() {
    let tmp = setup();
    // Move the service block to a file sorting after the components.
    let env_dir = tmp.path().join("environments/prod");
    std::fs::rename(env_dir.join("main.hcl"), env_dir.join("zz-main.hcl")).unwrap();
    let vars = VarInputs {
        cli: vec![("web_size".into(), "2".into())],
        ..Default::default()
    };
    let spec = load(&env_dir.join("."), &vars).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(spec.environment, "prod");
    assert_eq!(spec.regions.len(), 3);
}
