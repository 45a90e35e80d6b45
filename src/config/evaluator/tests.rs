use super::*;

/// Evaluates `expr` in a scope declared by `src`; the error is the rendered diagnostics.
fn eval_in(src: &str, expr: &str) -> Result<serde_json::Value, String> {
    let mut reporter = Reporter::default();
    let file = reporter.sources.add("main.hcl".into(), src.into());
    let body = hcl_edit::parser::parse_body(src).expect("test spec parses");
    let mut scope = Scope::default();
    scope.collect(&mut reporter, &[(file, body)]);
    let expr_file = reporter.sources.add("expr.hcl".into(), expr.into());
    let parsed = hcl_edit::parser::parse_expr(expr).expect("test expression parses");
    let mut ev = Evaluator::new(reporter, vec![scope], BTreeMap::new());
    match ev.eval_expr(0, expr_file, &parsed) {
        Some(v) if !ev.reporter.has_errors() => Ok(serde_json::to_value(v).unwrap()),
        _ => Err(ev.reporter.finish().to_string()),
    }
}

const SPEC: &str = r#"
variable "sizes" {
  type    = list(number)
  default = ["1", 2]
}
variable "env" {
  default = "prod"
}
locals {
  name   = "${local.prefix}-${var.env}"
  prefix = upper("svc")
  count  = length(var.sizes)
}
cluster "web" {
  size  = local.count
  image = "ami-1"
}
dns "api" {
  zone    = "example.com"
  name    = "api.example.com"
  cluster = cluster.web
}
"#;

#[test]
fn locals_reference_each_other_in_any_order() {
    assert_eq!(
        eval_in(SPEC, "local.name"),
        Ok(serde_json::json!("SVC-prod"))
    );
}

#[test]
fn variable_defaults_convert_to_the_declared_type() {
    assert_eq!(eval_in(SPEC, "var.sizes"), Ok(serde_json::json!([1, 2])));
}

#[test]
fn conditionals_for_expressions_and_templates() {
    assert_eq!(
        eval_in(SPEC, "var.env == \"prod\" ? 3 : 1"),
        Ok(serde_json::json!(3))
    );
    assert_eq!(
        eval_in(SPEC, "[for s in var.sizes : s * 2]"),
        Ok(serde_json::json!([2, 4]))
    );
    assert_eq!(
        eval_in(SPEC, r#""%{ for s in var.sizes }${s};%{ endfor }""#),
        Ok(serde_json::json!("1;2;"))
    );
}

#[test]
fn components_evaluate_to_their_settings_with_defaults() {
    let web = eval_in(SPEC, "cluster.web").unwrap();
    assert_eq!(web["name"], "web");
    assert_eq!(web["address"], "cluster.web");
    assert_eq!(web["size"], 2);
    assert_eq!(web["port"], 80);
    assert_eq!(web["instance_type"], "t3.micro");
    assert_eq!(
        eval_in(SPEC, "dns.api.cluster"),
        Ok(serde_json::json!("cluster.web"))
    );
}

#[test]
fn undefined_names_are_reported_with_suggestions() {
    let err = eval_in(SPEC, "local.nam").unwrap_err();
    assert!(
        err.contains("undefined local `local.nam`") && err.contains("did you mean `local.name`?"),
        "{err}"
    );
    let err = eval_in(SPEC, "cluster.api").unwrap_err();
    assert!(err.contains("undefined cluster `cluster.api`"), "{err}");
    let err = eval_in(SPEC, "var").unwrap_err();
    assert!(err.contains("`var` must be followed by a name"), "{err}");
    let err = eval_in(SPEC, "nope + 1").unwrap_err();
    assert!(err.contains("unknown name `nope`"), "{err}");
}

#[test]
fn cycles_are_reported_once() {
    let err = eval_in("locals {\n  a = local.b\n  b = local.a\n}\n", "local.a").unwrap_err();
    assert!(
        err.contains("reference cycle: `local.a` -> `local.b` -> `local.a`"),
        "{err}"
    );
    assert!(err.ends_with("1 error in the spec"), "{err}");
}

#[test]
fn arithmetic_overflow_is_a_diagnostic() {
    let err = eval_in("", "18446744073709551615 + 1").unwrap_err();
    assert!(
        err.contains("`18446744073709551615 + 1` is out of range"),
        "{err}"
    );
    assert!(err.contains("expr.hcl:1:22"), "{err}");
}
