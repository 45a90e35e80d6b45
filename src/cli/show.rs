//! `standby show [PLAN_FILE | ENV] [--json]`: a saved plan, or an environment's state, for
//! people or machines.
//!
//! Invariant: show only reads (the plan file, or the state through its backend); a saved
//! plan's JSON is exactly what `plan --json` printed when it was made.

use super::{output, render, GlobalArgs, Outcome};
use crate::ops::Context;
use crate::state::State;
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};
use std::fmt::Write;
use std::path::PathBuf;

/// Version of the `show --json` document of a state.
pub const SHOW_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved by `standby plan --out`, or an environment directory whose state is shown
    /// (default: the current directory)
    #[arg(value_name = "PLAN_FILE | ENV", default_value = ".")]
    pub path: PathBuf,
    /// Print JSON on stdout: the plan JSON of `plan --json`, or the state's resources
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: ShowArgs, g: &GlobalArgs, cx: &Context) -> Result<Outcome> {
    if args.path.is_file() {
        let plan = crate::plan::load_plan(&args.path)?;
        if args.json {
            cx.shell.document(&render::plan_json(&plan));
        } else {
            cx.shell.out(&render::plan(&plan));
        }
        return Ok(Outcome::Success);
    }
    let state = output::applied_state(&args.path, g).await?;
    if args.json {
        cx.shell.document(&state_json(&state));
    } else {
        cx.shell.out(&state_text(&state));
    }
    Ok(Outcome::Success)
}

/// The state for people: every resource with its id and attributes, then the outputs.
pub fn state_text(s: &State) -> String {
    let mut out = String::new();
    let roles: Vec<String> = s
        .roles
        .iter()
        .map(|(r, role)| format!("{r} {role}"))
        .collect();
    let _ = writeln!(
        out,
        "environment {} (serial {}, lineage {})",
        s.environment, s.serial, s.lineage
    );
    if !roles.is_empty() {
        let _ = writeln!(out, "roles: {}", roles.join(", "));
    }
    if s.resources().is_empty() {
        let _ = writeln!(out, "\nThe state holds no resources.");
    }
    for r in s.resources() {
        let kind = crate::dr::kind_name(r.kind);
        let _ = match &r.region {
            Some(region) => writeln!(out, "\n# {}: {kind} in {region}", r.address),
            None => writeln!(out, "\n# {}: {kind}", r.address),
        };
        let id = Value::String(r.id.clone());
        let fields: Vec<(&str, &Value)> = std::iter::once(("id", &id))
            .chain(r.attrs.iter().map(|(k, v)| (k.as_str(), v)))
            .chain(r.computed.iter().map(|(k, v)| (k.as_str(), v)))
            .collect();
        let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in fields {
            let _ = writeln!(out, "    {k:width$} = {}", output::hcl(v));
        }
    }
    out.push_str(&output::listing(&s.outputs));
    out
}

/// `show --json` of a state (format version 1, documented in README.md, "The commands").
pub fn state_json(s: &State) -> String {
    let resources: Vec<Value> = s
        .resources()
        .iter()
        .map(|r| {
            json!({
                "address": r.address,
                "kind": r.kind,
                "region": r.region,
                "id": r.id,
                "attributes": r.attrs,
                "computed": r.computed,
            })
        })
        .collect();
    let doc = json!({
        "format_version": SHOW_FORMAT_VERSION,
        "environment": s.environment,
        "lineage": s.lineage,
        "serial": s.serial,
        "roles": s.roles,
        "resources": resources,
        "outputs": s.outputs,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
