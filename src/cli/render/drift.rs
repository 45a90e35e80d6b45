//! The renderers of a drift report: text, JUnit and Markdown (JSON is `report::drift`'s
//! document).
//!
//! Invariant: renderers are pure (a report in, a string out); JUnit is escaped XML.

use crate::address::Address;
use crate::dr::{kind_name, DriftKind, DriftReport, Drifted};
use crate::plan::Change;
use console::style;
use std::fmt::Write;

/// `drift --format json` is a document of its own (README.md, "Drift").
pub use crate::report::drift::{json, VERSION as DRIFT_FORMAT_VERSION};

fn symbol(k: DriftKind) -> &'static str {
    match k {
        DriftKind::Changed => "~",
        DriftKind::Missing => "-",
        DriftKind::Unmanaged => "?",
        DriftKind::NotApplied => "+",
    }
}

/// `changed`, `missing`, `unmanaged`, `not applied`.
fn label(k: DriftKind) -> &'static str {
    match k {
        DriftKind::NotApplied => "not applied",
        other => other.as_str(),
    }
}

/// `1 changed, 1 missing, 0 unmanaged, 0 not applied` (and roles with --roles-as-drift).
fn counts(r: &DriftReport) -> String {
    let s = r.summary();
    let mut out = format!(
        "{} changed, {} missing, {} unmanaged, {} not applied",
        s.changed, s.missing, s.unmanaged, s.not_applied
    );
    if r.roles_as_drift {
        let _ = write!(
            out,
            ", {} role{}",
            s.roles,
            if s.roles == 1 { "" } else { "s" }
        );
    }
    out
}

/// `42 resources checked, 1 ignored by rules`.
fn checked_line(r: &DriftReport) -> String {
    let s = r.summary();
    let mut out = format!(
        "{} resource{} checked",
        s.checked,
        if s.checked == 1 { "" } else { "s" }
    );
    if s.ignored > 0 {
        let _ = write!(out, ", {} ignored by rules", s.ignored);
    }
    out
}

/// A change as plans show it, element by element for lists and maps.
fn change_lines(c: &Change, indent: usize) -> Vec<String> {
    crate::cli::render::change_lines(c, indent, 0)
}

/// The report as a person reads it in a terminal.
pub fn text(r: &DriftReport) -> String {
    let mut out = String::new();
    for note in &r.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if !r.notes.is_empty() {
        out.push('\n');
    }
    if !r.has_drift() {
        let _ = writeln!(
            out,
            "No drift. Environment {} matches its state and spec ({}).",
            r.environment,
            checked_line(r)
        );
        ignored_text(&mut out, r);
        return out;
    }
    let _ = writeln!(out, "Drift in environment {}:\n", r.environment);
    for d in &r.drifted {
        let head = format!("{:>3} {}", symbol(d.drift), d.address);
        let st = match d.drift {
            DriftKind::Changed => style(head).yellow(),
            DriftKind::Missing => style(head).red(),
            DriftKind::Unmanaged => style(head).magenta(),
            DriftKind::NotApplied => style(head).green(),
        };
        let _ = writeln!(out, "{} ({})", st, label(d.drift));
        let _ = writeln!(out, "      {}", d.detail);
        for c in &d.changes {
            for line in change_lines(c, 4) {
                let _ = writeln!(out, "{line}");
            }
        }
        out.push('\n');
    }
    if r.roles_as_drift {
        for x in &r.role_differences {
            let _ = writeln!(
                out,
                "  ~ region.{} (role: {} in the state, {} in the spec)\n",
                x.region, x.state, x.spec
            );
        }
    }
    ignored_text(&mut out, r);
    let _ = writeln!(out, "Drift: {} ({}).", counts(r), checked_line(r));
    out
}

fn ignored_text(out: &mut String, r: &DriftReport) {
    if r.ignored.is_empty() {
        return;
    }
    let _ = writeln!(out, "Ignored by rules in the spec:");
    for i in &r.ignored {
        let what = if i.keys.is_empty() {
            label(i.drift).to_string()
        } else {
            i.keys.join(", ")
        };
        let until = i
            .until
            .as_ref()
            .map(|u| format!(", until {u}"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {} ({what}): {}{until}", i.address, i.reason);
    }
    out.push('\n');
}

/// Escapes text for XML content and attribute values (also drops characters XML 1.0
/// cannot hold at all).
pub(super) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// When the check started (UTC, JUnit's `timestamp` form: no zone) and how long it took.
pub struct Timing {
    pub started_at: String,
    pub elapsed: std::time::Duration,
}

/// Now in UTC as JUnit's `timestamp` writes it.
pub(in crate::cli) fn junit_timestamp() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_default()
}

/// `us-east-1.instance`, `global.record`: a JUnit class per region and kind.
fn classname(region: Option<&str>, kind: crate::topology::Kind) -> String {
    format!("{}.{}", region.unwrap_or("global"), kind_name(kind))
}

/// JUnit XML: one test case per managed resource, a failure for each drifted one, and a
/// failing test case for each unmanaged resource (and each role difference counted as
/// drift). Ignored drift shows as a passing test case with `system-out`. The suites' `time`
/// is the whole check; one batched read serves every resource, so a test case's is 0.
pub fn junit(r: &DriftReport, timing: &Timing) -> String {
    let drifted: std::collections::BTreeMap<&str, &Drifted> =
        r.drifted.iter().map(|d| (d.address.as_str(), d)).collect();
    let mut cases = String::new();
    let mut failures = 0usize;
    let mut tests = 0usize;
    let failure = |d: &Drifted| {
        let mut body = format!("{}\n", d.detail);
        if let Some(id) = &d.id {
            let _ = writeln!(body, "id: {id}");
        }
        for c in &d.changes {
            for line in change_lines(c, 0) {
                let _ = writeln!(body, "{line}");
            }
        }
        format!(
            "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
            xml(&format!("{}: {}", label(d.drift), d.detail)),
            d.drift.as_str(),
            xml(&body)
        )
    };
    for c in &r.checked {
        tests += 1;
        let _ = write!(
            cases,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            xml(&classname(c.region.as_deref(), c.kind)),
            xml(c.address.as_str())
        );
        let ignored: Vec<&crate::dr::Ignored> = r
            .ignored
            .iter()
            .filter(|i| i.address == c.address)
            .collect();
        match drifted.get(c.address.as_str()) {
            Some(d) => {
                failures += 1;
                cases.push_str(">\n");
                cases.push_str(&failure(d));
                cases.push_str("    </testcase>\n");
            }
            None if !ignored.is_empty() => {
                cases.push_str(">\n");
                let lines: String = ignored
                    .iter()
                    .map(|i| format!("drift ignored by the rule for {}: {}\n", i.rule, i.reason))
                    .collect();
                let _ = writeln!(cases, "      <system-out>{}</system-out>", xml(&lines));
                cases.push_str("    </testcase>\n");
            }
            None => cases.push_str("/>\n"),
        }
    }
    for d in r.drifted.iter().filter(|d| d.drift == DriftKind::Unmanaged) {
        tests += 1;
        failures += 1;
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
            xml(&format!(
                "unmanaged.{}",
                classname(d.region.as_deref(), d.kind)
            )),
            xml(d.address.as_str())
        );
        cases.push_str(&failure(d));
        cases.push_str("    </testcase>\n");
    }
    if r.roles_as_drift {
        for x in &r.role_differences {
            tests += 1;
            failures += 1;
            let message = format!(
                "region {} is {} in the state but {} in the spec",
                x.region, x.state, x.spec
            );
            let _ = writeln!(
                cases,
                "    <testcase classname=\"roles\" name=\"{}\" time=\"0\">\n      <failure message=\"{}\" type=\"role\">{}</failure>\n    </testcase>",
                xml(Address::region_scope(&x.region).as_str()),
                xml(&message),
                xml(&message)
            );
        }
    }
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = format!("standby drift {}", r.environment);
    let time = format!("{:.3}", timing.elapsed.as_secs_f64());
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time}\">",
        xml(&name)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time}\" timestamp=\"{}\">",
        xml(&name),
        xml(&timing.started_at)
    );
    if !r.notes.is_empty() {
        let notes: String = r.notes.iter().map(|n| format!("note: {n}\n")).collect();
        let _ = writeln!(out, "    <system-out>{}</system-out>", xml(&notes));
    }
    out.push_str(&cases);
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes a Markdown table cell: pipes, and newlines as spaces.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Inline code for a table cell: backquotes that survive any content.
fn code(s: &str) -> String {
    let fence = if s.contains('`') { "``" } else { "`" };
    format!("{fence}{}{fence}", cell(s))
}

/// `key`: `before` → `after`, or for a list or map each changed element on a line of its own.
fn markdown_change(c: &Change) -> String {
    use crate::cli::render::{element_diff, value};
    let Some((elements, same)) = element_diff(&c.before, &c.after) else {
        return format!(
            "{}: {} → {}",
            code(&c.key),
            code(&value(&c.before)),
            code(&value(&c.after))
        );
    };
    let mut out = format!("{}:", code(&c.key));
    for e in &elements {
        let _ = write!(out, "<br>&nbsp;&nbsp;{}", code(&e.line()));
    }
    if same > 0 {
        let _ = write!(out, "<br>&nbsp;&nbsp;({same} unchanged)");
    }
    out
}

/// A summary line and a table: for a CI job summary or a pull-request comment.
pub fn markdown(r: &DriftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## standby drift: `{}`\n", cell(&r.environment));
    if !r.has_drift() {
        let _ = writeln!(
            out,
            "**No drift**: the environment matches its state and spec ({}).",
            checked_line(r)
        );
    } else {
        let _ = writeln!(out, "**Drift**: {} ({}).\n", counts(r), checked_line(r));
        out.push_str("| | Address | Drift | Details |\n|---|---|---|---|\n");
        for d in &r.drifted {
            let mut details = cell(&d.detail);
            for c in &d.changes {
                let _ = write!(details, "<br>{}", markdown_change(c));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(symbol(d.drift)),
                code(d.address.as_str()),
                label(d.drift),
                details
            );
        }
        if r.roles_as_drift {
            for x in &r.role_differences {
                let _ = writeln!(
                    out,
                    "| ~ | {} | role | {} in the state, {} in the spec |",
                    code(Address::region_scope(&x.region).as_str()),
                    x.state,
                    x.spec
                );
            }
        }
    }
    if !r.ignored.is_empty() {
        out.push_str("\n<details><summary>Ignored by rules in the spec</summary>\n\n");
        out.push_str("| Address | Ignored | Reason | Until |\n|---|---|---|---|\n");
        for i in &r.ignored {
            let what = if i.keys.is_empty() {
                label(i.drift).to_string()
            } else {
                i.keys.join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                code(i.address.as_str()),
                cell(&what),
                cell(&i.reason),
                i.until.as_deref().unwrap_or("-")
            );
        }
        out.push_str("\n</details>\n");
    }
    if !r.notes.is_empty() {
        out.push('\n');
        for n in &r.notes {
            let _ = writeln!(out, "> note: {}", cell(n));
        }
    }
    out
}
