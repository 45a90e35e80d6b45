//! `standby output [NAME] [--json]`: the outputs recorded by the last apply, as Terraform
//! shows them (`name = "value"`; `--json` in `terraform output -json`'s shape).

use super::{GlobalArgs, Outcome};
use crate::ops::Context;
use crate::state::{State, StateStore};
use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output's name; all of them when absent
    pub name: Option<String>,
    /// Environment directory (default: the current directory)
    #[arg(long, value_name = "ENV", default_value = ".")]
    pub env: PathBuf,
    /// Print JSON: every output as {sensitive, type, value}, or one output's value
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: OutputArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    let state = applied_state(&args.env, g).await?;
    match (args.name, args.json) {
        (Some(n), json) => {
            let v = state.outputs.get(&n).ok_or_else(|| {
                anyhow!(
                    "no output named {n}: the outputs are {}",
                    state.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?;
            match v {
                Value::String(s) if !json => cx.shell.out_line(s),
                other => cx.shell.out_line(&other.to_string()),
            }
        }
        (None, true) => cx.shell.document(&outputs_json(&state.outputs)),
        (None, false) => cx.shell.out(&lines(&state.outputs)),
    }
    Ok(Outcome::Success)
}

/// The state of the environment in `dir`: through the spec's backend when the spec loads,
/// the local file otherwise (outputs and the state need no variables).
pub(super) async fn applied_state(dir: &Path, g: &GlobalArgs) -> Result<State> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("no environment at {}", dir.display()))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match g.load(&dir) {
        Ok(env) => env.read_state().await?,
        Err(_) => StateStore::read(&StateStore::path_for(&dir, &name))?,
    }
    .ok_or_else(|| anyhow!("environment {name} has no state yet: run `standby apply` first"))
}

/// `name = value` lines, values as HCL writes them.
pub fn lines(outputs: &BTreeMap<String, Value>) -> String {
    let mut out = String::new();
    for (k, v) in outputs {
        let _ = writeln!(out, "{k} = {}", hcl(v));
    }
    out
}

/// What follows `apply complete`: an `Outputs:` section, when there are outputs.
pub fn listing(outputs: &BTreeMap<String, Value>) -> String {
    if outputs.is_empty() {
        return String::new();
    }
    format!("\nOutputs:\n\n{}", lines(outputs))
}

/// `terraform output -json`'s shape: `{name: {sensitive, type, value}}`.
pub fn outputs_json(outputs: &BTreeMap<String, Value>) -> String {
    let doc: Map<String, Value> = outputs
        .iter()
        .map(|(k, v)| {
            let entry = json!({ "sensitive": false, "type": type_of(v), "value": v });
            (k.clone(), entry)
        })
        .collect();
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// A value's type as Terraform's JSON output writes it: `"string"`, `["tuple", [...]]` ...
fn type_of(v: &Value) -> Value {
    match v {
        Value::Null => json!("dynamic"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(items) => json!(["tuple", items.iter().map(type_of).collect::<Vec<_>>()]),
        Value::Object(m) => {
            let fields: Map<String, Value> =
                m.iter().map(|(k, v)| (k.clone(), type_of(v))).collect();
            json!(["object", fields])
        }
    }
}

/// A value as HCL writes it: `"text"`, `3`, `["a", "b"]`, `{ key = "v" }`.
pub(super) fn hcl(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            format!("[{}]", items.iter().map(hcl).collect::<Vec<_>>().join(", "))
        }
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{k} = {}", hcl(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}
