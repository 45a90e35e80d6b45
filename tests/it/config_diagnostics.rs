//! One test per class of spec problem: a small environment written to a temporary
//! directory, loaded, and its rendered diagnostics snapshotted. Paths are rendered
//! relative to the temporary directory (`[TMP]`), so the snapshots are stable.

use standby::config::{load, VarInputs};
use std::path::Path;

/// A valid service and two regions, to which each test adds one mistake.
const BASE: &str = r#"service "checkout" {
  rto = "15m"
  rpo = "5m"
}

region "us-east-1" {
  role = "primary"
  cidr = "10.0.0.0/16"
}

region "us-west-2" {
  role = "warm-standby"
  cidr = "10.1.0.0/16"
}
"#;

const CLUSTER: &str = r#"cluster "web" {
  size  = 2
  image = "ami-123"
}
"#;

fn write(root: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes `files` (paths relative to a temporary root), loads `environments/prod` and
/// returns the rendered diagnostics. Panics when the spec loads.
fn diagnose_with(files: &[(&str, &str)], vars: impl FnOnce(&Path) -> VarInputs) -> String {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("environments/prod")).unwrap();
    for (rel, text) in files {
        write(tmp.path(), rel, text);
    }
    let vars = vars(tmp.path());
    match load(&tmp.path().join("environments/prod"), &vars) {
        Ok(_) => panic!("the spec loaded without diagnostics"),
        Err(d) => d
            .to_string()
            .replace(&tmp.path().display().to_string(), "[TMP]"),
    }
}

fn diagnose(files: &[(&str, &str)]) -> String {
    diagnose_with(files, |_| VarInputs::default())
}

/// The base environment plus `extra` as `extra.hcl`.
fn diagnose_extra(extra: &str) -> String {
    diagnose(&[
        ("environments/prod/main.hcl", BASE),
        ("environments/prod/extra.hcl", extra),
    ])
}

#[test]
fn syntax_error() {
    insta::assert_snapshot!(diagnose_extra("cluster \"web\" {\n  size = \n}\n"));
}

#[test]
fn unknown_block() {
    insta::assert_snapshot!(diagnose_extra("clustr \"web\" {\n  size = 2\n}\n"));
}

#[test]
fn unknown_attribute() {
    insta::assert_snapshot!(diagnose_extra(
        "cluster \"web\" {\n  size  = 2\n  imgae = \"ami-123\"\n}\n"
    ));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(diagnose_extra(
        "cluster \"web\" {\n  size  = \"six\"\n  image = \"ami-123\"\n}\n"
    ));
}

#[test]
fn missing_required_attribute() {
    insta::assert_snapshot!(diagnose_extra("cluster \"web\" {\n  size = 2\n}\n"));
}

#[test]
fn undefined_variable() {
    insta::assert_snapshot!(diagnose_extra(
        "variable \"ami\" {\n  default = \"ami-1\"\n}\n\ncluster \"web\" {\n  size  = 2\n  image = var.amj\n}\n"
    ));
}

#[test]
fn undefined_local() {
    insta::assert_snapshot!(diagnose_extra(
        "locals {\n  image = \"ami-1\"\n}\n\ncluster \"web\" {\n  size  = 2\n  image = local.imag\n}\n"
    ));
}

#[test]
fn undefined_component_reference() {
    let dns = "dns \"api\" {\n  zone    = \"example.com\"\n  name    = \"api.example.com\"\n  cluster = cluster.wbe\n}\n";
    insta::assert_snapshot!(diagnose_extra(&format!("{CLUSTER}\n{dns}")));
}

#[test]
fn undefined_component_attribute_and_function() {
    insta::assert_snapshot!(diagnose_extra(&format!(
        "{CLUSTER}\noutput \"port\" {{ value = cluster.web.prot }}\noutput \"up\" {{ value = uper(\"x\") }}\n"
    )));
}

#[test]
fn reference_cycle_in_locals() {
    insta::assert_snapshot!(diagnose_extra(
        "locals {\n  a = local.b\n  b = \"${local.c}-x\"\n  c = local.a\n}\n"
    ));
}

#[test]
fn reference_cycle_through_module_outputs() {
    insta::assert_snapshot!(diagnose(&[
        ("environments/prod/main.hcl", BASE),
        (
            "environments/prod/modules.hcl",
            "module \"a\" {\n  source = \"../../modules/echo\"\n  input  = module.a.out\n}\n"
        ),
        (
            "modules/echo/main.hcl",
            "variable \"input\" {}\n\noutput \"out\" {\n  value = var.input\n}\n"
        ),
    ]));
}

#[test]
fn duplicate_names() {
    insta::assert_snapshot!(diagnose_extra(&format!(
        "{CLUSTER}\n{CLUSTER}\nvariable \"x\" {{}}\nvariable \"x\" {{}}\n\nlocals {{\n  y = 1\n}}\n\nlocals {{\n  y = 2\n}}\n"
    )));
}

#[test]
fn invalid_role() {
    insta::assert_snapshot!(diagnose_extra(
        "region \"eu-west-1\" {\n  role = \"cold\"\n  cidr = \"10.2.0.0/16\"\n}\n"
    ));
}

#[test]
fn invalid_duration() {
    let base = BASE
        .replace("rto = \"15m\"", "rto = \"a quarter hour\"")
        .replace("rpo = \"5m\"", "rpo = 5");
    insta::assert_snapshot!(diagnose(&[("environments/prod/main.hcl", &base)]));
}

#[test]
fn invalid_cidr() {
    insta::assert_snapshot!(diagnose_extra(
        "region \"eu-west-1\" {\n  role = \"cold-standby\"\n  cidr = \"10.2.0.0/33\"\n}\n\n\
         region \"eu-central-1\" {\n  role = \"cold-standby\"\n  cidr = \"10.3.0.1/16\"\n}\n"
    ));
}

#[test]
fn capacity_out_of_range() {
    insta::assert_snapshot!(diagnose_extra(
        "region \"eu-west-1\" {\n  role     = \"warm-standby\"\n  cidr     = \"10.2.0.0/16\"\n  capacity = 1.5\n}\n"
    ));
}

#[test]
fn min_healthy_percentage_out_of_range() {
    insta::assert_snapshot!(diagnose_extra(
        "cluster \"api\" {\n  size  = 2\n  image = \"ami-12c6146b\"\n  min_healthy_percentage = 150\n}\n"
    ));
}

#[test]
fn invalid_zone() {
    insta::assert_snapshot!(diagnose_extra(
        "region \"eu-west-1\" {\n  role  = \"cold-standby\"\n  cidr  = \"10.2.0.0/16\"\n  zones = [\"eu-west-1a\", \"us-east-1b\"]\n}\n"
    ));
}

#[test]
fn invalid_bucket_name() {
    insta::assert_snapshot!(diagnose_extra(
        "bucket \"receipts\" {\n  bucket_name = \"Acme_Receipts\"\n}\n"
    ));
}

#[test]
fn negative_size() {
    insta::assert_snapshot!(diagnose_extra(
        "cluster \"web\" {\n  size  = -3\n  image = \"ami-123\"\n}\n"
    ));
}

#[test]
fn port_out_of_range() {
    insta::assert_snapshot!(diagnose_extra(
        "cluster \"web\" {\n  size  = 2\n  image = \"ami-123\"\n  port  = 70000\n}\n"
    ));
}

#[test]
fn no_service() {
    let base = BASE.replace("service \"checkout\"", "# no service\nlocals");
    let base = base.replace("  rto = \"15m\"\n  rpo = \"5m\"\n", "");
    insta::assert_snapshot!(diagnose(&[("environments/prod/a.hcl", &base)]));
}

#[test]
fn two_services() {
    insta::assert_snapshot!(diagnose_extra(
        "service \"other\" {\n  rto = \"1h\"\n  rpo = \"1h\"\n}\n"
    ));
}

#[test]
fn no_primary_region() {
    let base = BASE.replace("\"primary\"", "\"cold-standby\"");
    insta::assert_snapshot!(diagnose(&[("environments/prod/main.hcl", &base)]));
}

#[test]
fn two_primary_regions() {
    let base = BASE.replace("\"warm-standby\"", "\"primary\"");
    insta::assert_snapshot!(diagnose(&[("environments/prod/main.hcl", &base)]));
}

#[test]
fn no_region() {
    insta::assert_snapshot!(diagnose(&[(
        "environments/prod/main.hcl",
        "service \"checkout\" {\n  rto = \"15m\"\n  rpo = \"5m\"\n}\n"
    )]));
}

#[test]
fn override_of_undeclared_component() {
    insta::assert_snapshot!(diagnose_extra(&format!(
        "{CLUSTER}\nregion \"eu-west-1\" {{\n  role = \"cold-standby\"\n  cidr = \"10.2.0.0/16\"\n  cluster \"wbe\" {{\n    image = \"ami-456\"\n  }}\n}}\n"
    )));
}

#[test]
fn invalid_override_value() {
    insta::assert_snapshot!(diagnose_extra(&format!(
        "{CLUSTER}\nregion \"eu-west-1\" {{\n  role = \"cold-standby\"\n  cidr = \"10.2.0.0/16\"\n  cluster \"web\" {{\n    port = 0\n  }}\n}}\n"
    )));
}

#[test]
fn module_source_does_not_exist() {
    insta::assert_snapshot!(diagnose_extra(
        "module \"tier\" {\n  source = \"../../modules/missing\"\n}\n"
    ));
}

#[test]
fn module_arguments_unknown_and_missing() {
    insta::assert_snapshot!(diagnose(&[
        ("environments/prod/main.hcl", BASE),
        (
            "environments/prod/tier.hcl",
            "module \"tier\" {\n  source = \"../../modules/tier\"\n  imag   = \"ami-1\"\n}\n"
        ),
        (
            "modules/tier/main.hcl",
            "variable \"image\" {}\n\ncluster \"web\" {\n  size  = 1\n  image = var.image\n}\n"
        ),
    ]));
}

#[test]
fn region_in_module() {
    insta::assert_snapshot!(diagnose(&[
        ("environments/prod/main.hcl", BASE),
        (
            "environments/prod/tier.hcl",
            "module \"tier\" {\n  source = \"../../modules/tier\"\n}\n"
        ),
        (
            "modules/tier/main.hcl",
            "region \"eu-west-1\" {\n  role = \"cold-standby\"\n  cidr = \"10.2.0.0/16\"\n}\n"
        ),
    ]));
}

#[test]
fn variable_without_value() {
    insta::assert_snapshot!(diagnose_extra("variable \"ami\" {\n  type = string\n}\n"));
}

#[test]
fn value_for_undeclared_variable() {
    insta::assert_snapshot!(diagnose_with(
        &[
            ("environments/prod/main.hcl", BASE),
            (
                "environments/prod/vars.hcl",
                "variable \"size\" {\n  type    = number\n  default = 1\n}\n"
            ),
            ("prod.tfvars.hcl", "sise = 3\n"),
        ],
        |tmp| VarInputs {
            cli: vec![("szie".into(), "3".into())],
            files: vec![tmp.join("prod.tfvars.hcl")],
            env: vec![("other".into(), "x".into())],
        },
    ));
}

#[test]
fn invalid_value_for_typed_variable() {
    insta::assert_snapshot!(diagnose_with(
        &[
            ("environments/prod/main.hcl", BASE),
            (
                "environments/prod/vars.hcl",
                "variable \"size\" {\n  type = number\n}\n"
            ),
        ],
        |_| VarInputs {
            cli: vec![("size".into(), "six".into())],
            ..VarInputs::default()
        },
    ));
}

#[test]
fn invalid_utf8() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "environments/prod/main.hcl", BASE);
    write(
        tmp.path(),
        "environments/prod/blob.hcl",
        b"locals {\n  a = \"\xff\xfe\"\n}\n",
    );
    let err = load(&tmp.path().join("environments/prod"), &VarInputs::default()).unwrap_err();
    insta::assert_snapshot!(err
        .to_string()
        .replace(&tmp.path().display().to_string(), "[TMP]"));
}

#[test]
fn empty_directory() {
    insta::assert_snapshot!(diagnose(&[]));
}

#[test]
fn directory_without_hcl_files() {
    insta::assert_snapshot!(diagnose(&[("environments/prod/README.md", "# prod\n")]));
}

#[test]
fn missing_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load(&tmp.path().join("nope"), &VarInputs::default()).unwrap_err();
    insta::assert_snapshot!(err
        .to_string()
        .replace(&tmp.path().display().to_string(), "[TMP]"));
}

#[test]
fn function_errors_point_at_the_call() {
    insta::assert_snapshot!(diagnose_extra(
        "locals {\n  subnet = \"${cidrsubnet(\"10.0.0.0/16\", 8, 300)}\"\n  n      = 1 + \"x\"\n}\n"
    ));
}

#[test]
fn dns_needs_a_cluster_reference() {
    insta::assert_snapshot!(diagnose_extra(&format!(
        "{CLUSTER}\ndns \"api\" {{\n  zone    = \"example.com\"\n  name    = \"api.other.com\"\n  cluster = \"web\"\n  health_check {{\n    protocol = \"HTTP2\"\n  }}\n}}\n"
    )));
}

#[test]
fn every_problem_is_reported_at_once() {
    insta::assert_snapshot!(diagnose(&[
        (
            "environments/prod/a.hcl",
            "service \"checkout\" {\n  rto = \"fast\"\n  rpo = \"5m\"\n}\n"
        ),
        (
            "environments/prod/b.hcl",
            "region \"us-east-1\" {\n  role = \"primary\"\n  cidr = \"10.0.0.0\"\n}\n"
        ),
        (
            "environments/prod/c.hcl",
            "cluster \"web\" {\n  size = \"six\"\n  image = var.ami\n  prot = 80\n}\n"
        ),
        (
            "environments/prod/d.hcl",
            "database \"orders\" {\n  engine = \"postgress\"\n}\n"
        ),
    ]));
}

/// A deterministic xorshift generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn garbage_and_truncated_input_gives_diagnostics_not_panics() {
    let full = format!(
        "{BASE}\n# ünïcödé comment ✓\n{CLUSTER}\nlocals {{\n  x = \"${{upper(\"é\")}}\"\n  y = [for s in [\"a\"] : s]\n}}\n"
    );
    let tokens: &[&str] = &[
        "cluster", "\"web\"", "{", "}", "[", "]", "=", "var.", "local.", "${", "\"", "\n", " ",
        "1", "-", "0.5", "region", "(", ")", ",", "%{", "<<EOT\n", "EOT\n", "é", "/*", "*/", "#",
        "\u{0}", "?", ":",
    ];
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    // Truncations of a valid spec, some of them inside multi-byte characters.
    for cut in (0..full.len()).step_by(7) {
        inputs.push(full.as_bytes()[..cut].to_vec());
    }
    // Random bytes.
    for _ in 0..150 {
        let len = (rng.next() % 200) as usize;
        inputs.push((0..len).map(|_| rng.next() as u8).collect());
    }
    // Random sequences of HCL-ish tokens, which get further into the parser.
    for _ in 0..150 {
        let len = (rng.next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| tokens[(rng.next() % tokens.len() as u64) as usize])
            .collect();
        inputs.push(text.into_bytes());
    }
    let tmp = tempfile::tempdir().unwrap();
    let env = tmp.path().join("env");
    std::fs::create_dir_all(&env).unwrap();
    for (i, input) in inputs.iter().enumerate() {
        std::fs::write(env.join("main.hcl"), input).unwrap();
        let result = std::panic::catch_unwind(|| load(&env, &VarInputs::default()));
        match result {
            // Some truncations are complete specs.
            Ok(Ok(_)) => {}
            Ok(Err(d)) => {
                assert!(!d.0.is_empty(), "input {i}: an error without diagnostics");
                for diag in &d.0 {
                    assert!(diag.line >= 1 && diag.column >= 1, "input {i}: {diag}");
                }
            }
            Err(_) => panic!("input {i} panicked: {:?}", String::from_utf8_lossy(input)),
        }
    }
}

#[test]
fn a_lone_unparsable_file_is_reported_as_itself_not_as_a_missing_spec() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "environments/prod/main.hcl",
        b"\xff\xfe\x00garbage",
    );
    let err = load(&tmp.path().join("environments/prod"), &VarInputs::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("the file is not valid UTF-8 text"), "{text}");
    assert!(!text.contains("holds no .hcl files"), "{text}");
    assert_eq!(err.0.len(), 1, "{text}");
}

#[test]
fn reserved_tag_keys() {
    let base = BASE.replace(
        "rpo = \"5m\"",
        "rpo = \"5m\"\n  tags = { team = \"payments\", \"standby:environment\" = \"prod\", Name = \"x\" }",
    );
    insta::assert_snapshot!(diagnose(&[("environments/prod/main.hcl", &base)]));
}

#[test]
fn state_replica_in_the_backends_region_or_without_a_bucket() {
    let extra = format!(
        "{CLUSTER}\nstandby {{\n  backend \"s3\" {{\n    bucket = \"state\"\n    key    = \"prod.json\"\n    region = \"us-east-1\"\n    replica {{\n      region = \"us-east-1\"\n    }}\n  }}\n}}\n"
    );
    insta::assert_snapshot!(diagnose_extra(&extra));
}
