//! Rendering of plans, diagnostics and reports as text a person reads.
//!
//! Invariant: rendering is pure: it returns strings, so snapshots test exactly what a user
//! sees (colours are off when NO_COLOR is set or the stream is not a terminal).

use crate::apply::ApplyReport;
use crate::config::Diagnostics;
use crate::plan::{Action, Change, Plan};
use console::{style, Style};
use serde_json::Value;
use std::fmt::Write;

pub mod check;
pub mod drift;
pub mod drill;
mod restore;
mod status;

pub use crate::report::plan::{json as plan_json, promote_json};
pub use restore::restore_summary;
pub use status::status;

pub use crate::shell::{error_prefix, warning_prefix};

pub fn diagnostics(d: &Diagnostics) -> String {
    d.to_string()
}

fn action_style(a: &Action) -> Style {
    let s = Style::new().for_stderr();
    match a {
        Action::Create { .. } => s.green(),
        Action::Update { .. } => s.yellow(),
        Action::Replace { .. } => s.magenta(),
        Action::Delete { .. } => s.red(),
    }
}

/// The whole plan: notes, every action with its attribute changes, and the summary line.
pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.targets.is_empty() {
        out.push_str(&targeting_warning(plan));
    }
    for s in &plan.split_brain {
        let fenced = plan
            .actions
            .iter()
            .any(|a| a.fences() && a.region() == Some(s.region.as_str()));
        let what = match fenced {
            true => "this plan fences it first",
            false => "nothing in this plan fences it",
        };
        let _ = writeln!(out, "{} {s}: {what}\n", warning_prefix());
    }
    for note in &plan.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if !plan.notes.is_empty() {
        out.push('\n');
    }
    if plan.actions.is_empty() {
        let _ = writeln!(
            out,
            "No changes. Environment {} matches the spec.",
            plan.environment
        );
        return out;
    }
    let _ = writeln!(
        out,
        "standby will perform these actions in environment {}:\n",
        plan.environment
    );
    for a in &plan.actions {
        action(&mut out, a);
        out.push('\n');
    }
    out.push_str(&summary_line(plan));
    out.push('\n');
    out
}

/// Terraform's warning for a plan narrowed with `--target`.
fn targeting_warning(plan: &Plan) -> String {
    let targets: Vec<&str> = plan.targets.iter().map(|t| t.as_str()).collect();
    format!(
        "{} resource targeting is in effect: this plan covers only {} and what that needs, \
         so it may not be everything the spec asks for. --target is not for routine use: it \
         is for exceptional situations, such as recovering from errors or mistakes.\n\n",
        warning_prefix(),
        targets.join(", ")
    )
}

/// After applying a targeted plan (Terraform's "applied changes may be incomplete").
pub fn targeted_apply_warning(plan: &Plan) -> String {
    if plan.targets.is_empty() {
        return String::new();
    }
    format!(
        "{} applied changes may be incomplete: the plan was narrowed with --target, so some \
         changes the spec asks for may have been left out and the outputs may not be up to \
         date. Run `standby plan {}` to see what is still pending.\n",
        warning_prefix(),
        plan.env_dir.display()
    )
}

pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        s.create, s.update, s.replace, s.delete
    )
}

fn action(out: &mut String, a: &Action) {
    let st = action_style(a);
    let head = format!("{:>3} {}", a.symbol(), a.address());
    let _ = match (a, a.reason()) {
        (Action::Replace { .. }, Some(reason)) => {
            writeln!(out, "{} (replace: {reason})", st.apply_to(head))
        }
        (_, Some(reason)) => writeln!(out, "{} ({reason})", st.apply_to(head)),
        _ => writeln!(out, "{}", st.apply_to(head)),
    };
    match a {
        Action::Create { desired } => {
            let width = desired
                .attrs
                .keys()
                .map(String::len)
                .max()
                .unwrap_or(0)
                .max(2);
            for (k, v) in &desired.attrs {
                let _ = writeln!(out, "      {k:width$} = {}", value(v));
            }
            let _ = writeln!(out, "      {:width$} = (known after apply)", "id");
        }
        Action::Update { changes, .. } => changes_block(out, changes, None),
        Action::Replace {
            changes, current, ..
        } => changes_block(out, changes, Some(&current.id)),
        Action::Delete { current, .. } => {
            let _ = writeln!(
                out,
                "      id = {}",
                value(&Value::String(current.id.clone()))
            );
        }
    }
}

fn changes_block(out: &mut String, changes: &[Change], replaced_id: Option<&str>) {
    let width = changes
        .iter()
        .map(|c| c.key.len())
        .max()
        .unwrap_or(0)
        .max(if replaced_id.is_some() { 2 } else { 0 });
    for c in changes {
        match (&c.before, &c.after) {
            (Value::String(b), Value::String(a)) if b.contains('\n') || a.contains('\n') => {
                let _ = writeln!(out, "    ~ {}:", c.key);
                let diff = similar::TextDiff::from_lines(b.as_str(), a.as_str());
                for line in diff.unified_diff().context_radius(2).to_string().lines() {
                    let _ = writeln!(out, "        {line}");
                }
            }
            _ => {
                for line in change_lines(c, 4, width) {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
    }
    if let Some(id) = replaced_id {
        let _ = writeln!(
            out,
            "      {:width$} = {} -> (known after apply)",
            "id",
            value(&Value::String(id.into()))
        );
    }
}

/// One element of a list or map that changed, as `element_diff` finds them.
#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    /// A map key whose value changed.
    Changed {
        key: String,
        before: String,
        after: String,
    },
    /// A list element or map entry (`key` set) that is new.
    Added { key: Option<String>, value: String },
    /// A list element or map entry (`key` set) that is gone.
    Removed { key: Option<String>, value: String },
}

impl Element {
    /// `~ team = "a" -> "b"`, `+ "10.0.0.6"`, `- cost = "1"`.
    pub fn line(&self) -> String {
        let entry = |key: &Option<String>, v: &str| match key {
            Some(k) => format!("{k} = {v}"),
            None => v.to_string(),
        };
        match self {
            Element::Changed { key, before, after } => format!("~ {key} = {before} -> {after}"),
            Element::Added { key, value } => format!("+ {}", entry(key, value)),
            Element::Removed { key, value } => format!("- {}", entry(key, value)),
        }
    }
}

/// The elements that differ between two lists or two maps (a missing value counts as an
/// empty one), and how many are unchanged; `None` unless the values are such collections.
/// Lists are compared in order (an element moved is removed and added), maps by key.
pub fn element_diff(before: &Value, after: &Value) -> Option<(Vec<Element>, usize)> {
    let empty = |v: &Value, other: &Value| match (v, other) {
        (Value::Null, Value::Array(_)) => Some(Value::Array(Vec::new())),
        (Value::Null, Value::Object(_)) => Some(Value::Object(Default::default())),
        _ => None,
    };
    let before = empty(before, after).unwrap_or_else(|| before.clone());
    let after = empty(after, &before).unwrap_or_else(|| after.clone());
    match (&before, &after) {
        (Value::Array(b), Value::Array(a)) => {
            let (b, a): (Vec<String>, Vec<String>) =
                (b.iter().map(value).collect(), a.iter().map(value).collect());
            let mut out = Vec::new();
            let mut same = 0;
            for op in similar::capture_diff_slices(similar::Algorithm::Myers, &b, &a) {
                for change in op.iter_changes(&b, &a) {
                    let v = change.value().clone();
                    match change.tag() {
                        similar::ChangeTag::Equal => same += 1,
                        similar::ChangeTag::Delete => out.push(Element::Removed {
                            key: None,
                            value: v,
                        }),
                        similar::ChangeTag::Insert => out.push(Element::Added {
                            key: None,
                            value: v,
                        }),
                    }
                }
            }
            Some((out, same))
        }
        (Value::Object(b), Value::Object(a)) => {
            let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            let mut out = Vec::new();
            let mut same = 0;
            for k in keys {
                let key = map_key(k);
                match (b.get(k), a.get(k)) {
                    (Some(x), Some(y)) if x == y => same += 1,
                    (Some(x), Some(y)) => out.push(Element::Changed {
                        key,
                        before: value(x),
                        after: value(y),
                    }),
                    (None, Some(y)) => out.push(Element::Added {
                        key: Some(key),
                        value: value(y),
                    }),
                    (Some(x), _) => out.push(Element::Removed {
                        key: Some(key),
                        value: value(x),
                    }),
                    (None, None) => {}
                }
            }
            Some((out, same))
        }
        _ => None,
    }
}

/// The lines of one attribute change at `indent`, its key padded to `width`: `~ key = a -> b`,
/// or for a list or map only the elements that changed, one per line, as Terraform shows
/// them (a changed IP in a list of twenty is one `-` and one `+` line).
pub fn change_lines(c: &Change, indent: usize, width: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    let Some((elements, same)) = element_diff(&c.before, &c.after) else {
        return vec![format!(
            "{pad}~ {:width$} = {} -> {}",
            c.key,
            value(&c.before),
            value(&c.after)
        )];
    };
    let (open, close) = if c.after.is_array() || c.before.is_array() {
        ('[', ']')
    } else {
        ('{', '}')
    };
    let mut lines = vec![format!("{pad}~ {:width$} = {open}", c.key)];
    lines.extend(elements.iter().map(|e| format!("{pad}    {}", e.line())));
    if same > 0 {
        let what = if same == 1 { "element" } else { "elements" };
        lines.push(format!("{pad}      # ({same} unchanged {what} hidden)"));
    }
    lines.push(format!("{pad}  {close}"));
    lines
}

/// A map key as HCL writes it: bare when it is an identifier, quoted otherwise.
fn map_key(k: &str) -> String {
    let bare = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

/// A value as HCL would write it.
pub fn value(v: &Value) -> String {
    match v {
        Value::String(s) if s == crate::topology::UNKNOWN => s.clone(),
        Value::Null => "(none)".into(),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            format!(
                "[{}]",
                items.iter().map(value).collect::<Vec<_>>().join(", ")
            )
        }
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) if m.values().all(|i| !i.is_object() && !i.is_array()) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{} = {}", map_key(k), value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(_) | Value::Object(_) => v.to_string(),
        other => other.to_string(),
    }
}

/// The end of an apply: what completed, every failure in full, and where the state is.
pub fn apply_report(r: &ApplyReport, verb: &str) -> String {
    let mut out = String::new();
    if r.succeeded() {
        let not_made = match r.not_made.len() {
            0 => String::new(),
            1 => ", 1 change not made".to_string(),
            n => format!(", {n} changes not made"),
        };
        let _ = writeln!(
            out,
            "{} {} steps in {:.1}s{not_made}.",
            style(format!("{verb} complete:"))
                .green()
                .bold()
                .for_stderr(),
            r.completed,
            r.elapsed.as_secs_f64()
        );
        return out;
    }
    for f in &r.failures {
        let _ = writeln!(
            out,
            "{} {} ({}): {}",
            error_prefix(),
            f.address,
            f.region.as_deref().unwrap_or("global"),
            f.error
        );
    }
    if r.cancelled {
        let _ = writeln!(
            out,
            "{verb} interrupted: in-flight actions finished and the state was saved."
        );
    }
    let _ = writeln!(
        out,
        "{verb} stopped after {} of {} steps ({} failed); the state holds what completed: run the command again to converge.",
        r.completed,
        r.total,
        r.failures.len()
    );
    out
}

/// Best-effort changes that could not be made (Route 53 during an outage).
pub fn not_made(r: &ApplyReport) -> String {
    let mut out = String::new();
    for f in &r.not_made {
        let _ = writeln!(
            out,
            "{} not made: {}: {} (the health-checked failover records fail over by themselves; run `standby apply` when Route 53 answers)",
            warning_prefix(),
            f.address,
            f.error
        );
    }
    out
}
