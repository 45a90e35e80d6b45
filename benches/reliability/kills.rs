//! kill -9 during apply and during promote. A calibration run counts the progress lines a
//! complete command prints; the kill points are spread evenly over them (kill after the k-th
//! line; points that share a line wait 30 ms more each), so they cover the whole command.

use std::time::Duration;

use crate::readback::{census, Census};
use crate::world::{progress_lines, Outcome, World, ENV};

const APPLY: [&str; 3] = ["apply", ENV, "--auto-approve"];
const PROMOTE: [&str; 4] = ["promote", "us-west-2", ENV, "--auto-approve"];
const PLAN: [&str; 3] = ["plan", ENV, "--detailed-exitcode"];

#[derive(Clone, Copy)]
pub struct Point {
    pub line: usize,
    pub delay: Duration,
}

/// `n` kill points over `lines` progress lines.
pub fn points(n: usize, lines: usize) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for i in 0..n {
        let line = 1 + i * lines.saturating_sub(1) / n.saturating_sub(1).max(1);
        let repeat = out.iter().filter(|p| p.line == line).count() as u32;
        let delay = Duration::from_millis(30) * repeat;
        out.push(Point { line, delay });
    }
    out
}

/// One kill and what followed it.
#[derive(Default)]
pub struct Trial {
    pub point: String,
    /// The command was still running when killed.
    pub landed: bool,
    pub loads: bool,
    pub converged: bool,
    pub duplicates: Vec<String>,
    pub double_primaries: Vec<String>,
    /// Resources read back after the trial (shows the duplicate count is not vacuous).
    pub resources: usize,
    pub cause: Option<String>,
}

impl Trial {
    pub fn passed(&self) -> bool {
        self.loads
            && self.converged
            && self.duplicates.is_empty()
            && self.double_primaries.is_empty()
    }

    pub fn summary(&self) -> String {
        let verdict = if self.passed() { "pass" } else { "FAIL" };
        let detail = self
            .cause
            .iter()
            .chain(&self.duplicates)
            .chain(&self.double_primaries);
        let detail: Vec<&String> = detail.collect();
        format!(
            "{verdict} ({}, landed {}) {detail:?}",
            self.point, self.landed
        )
    }

    /// Notes the first failing step.
    fn failed(&mut self, step: &str, o: &Outcome) {
        if self.cause.is_none() && !o.ok() {
            self.cause = Some(format!("{step}: {}", o.cause()));
        }
    }
}

/// What a complete promote leaves, to compare resumed ones with.
pub struct Expected {
    pub apply_lines: usize,
    pub promote_lines: usize,
    roles: serde_json::Value,
}

/// One uninterrupted apply and promote on a fresh world.
pub fn calibrate() -> Expected {
    let w = World::new(false);
    let apply = w.run(&APPLY);
    assert!(apply.ok(), "the calibration apply fails: {}", apply.cause());
    let promote = w.run(&PROMOTE);
    assert!(
        promote.ok(),
        "the calibration promote fails: {}",
        promote.cause()
    );
    Expected {
        apply_lines: progress_lines(&apply.stderr),
        promote_lines: progress_lines(&promote.stderr),
        roles: roles(&w),
    }
}

fn roles(w: &World) -> serde_json::Value {
    w.state().map(|s| s["roles"].clone()).unwrap_or_default()
}

/// Regions the state names with `role`.
fn regions_with(w: &World, role: &str) -> Vec<String> {
    let roles = roles(w);
    let roles = roles.as_object().into_iter().flatten();
    roles
        .filter(|(_, r)| *r == role)
        .map(|(region, _)| region.clone())
        .collect()
}

fn read_back(w: &World) -> Result<Census, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = runtime.map_err(|e| e.to_string())?;
    runtime
        .block_on(census(&w.endpoint()))
        .map_err(|e| format!("read back: {e:#}"))
}

pub fn apply_trial(p: Point) -> Trial {
    let w = World::new(false);
    let killed = w.kill_after(&APPLY, p.line, p.delay);
    let mut t = Trial {
        point: format!("after line {} +{}ms", killed.lines, p.delay.as_millis()),
        landed: !killed.finished,
        ..Trial::default()
    };
    let list = w.run(&["state", "list", ENV]);
    t.loads = list.ok();
    t.failed("state list", &list);
    let again = w.run(&APPLY);
    t.failed("re-apply", &again);
    let plan = w.run(&PLAN);
    t.failed("plan --detailed-exitcode", &plan);
    t.converged = again.ok() && plan.ok();
    finish(&w, &mut t);
    t
}

pub fn promote_trial(p: Point, expected: &Expected) -> Trial {
    let w = World::new(false);
    let mut t = Trial::default();
    let setup = w.run(&APPLY);
    if !setup.ok() {
        t.failed("setup apply", &setup);
        return t;
    }
    let killed = w.kill_after(&PROMOTE, p.line, p.delay);
    t.point = format!("after line {} +{}ms", killed.lines, p.delay.as_millis());
    t.landed = !killed.finished;
    // Right after the kill: neither the state nor AWS names two primaries.
    check_primaries(&w, &mut t, "after the kill");
    let list = w.run(&["state", "list", ENV]);
    t.loads = list.ok();
    t.failed("state list", &list);
    let resume = w.run(&PROMOTE);
    let plan = w.run(&PLAN);
    let same_roles = roles(&w) == expected.roles;
    // A kill after the last step leaves a finished promote: re-running it may refuse ("already
    // the primary"); what counts is the end state.
    if !same_roles {
        t.failed("resumed promote", &resume);
        t.cause
            .get_or_insert_with(|| format!("roles {} after the resume", roles(&w)));
    }
    t.failed("plan --detailed-exitcode", &plan);
    t.converged = same_roles && plan.ok();
    check_primaries(&w, &mut t, "after the resume");
    finish(&w, &mut t);
    t
}

fn check_primaries(w: &World, t: &mut Trial, when: &str) {
    let primaries = regions_with(w, "primary");
    if primaries.len() > 1 {
        t.double_primaries
            .push(format!("state {when}: primaries {primaries:?}"));
    }
    match read_back(w) {
        Ok(c) => {
            let found = c.double_primaries(&regions_with(w, "failed"));
            t.double_primaries
                .extend(found.into_iter().map(|d| format!("AWS {when}: {d}")));
        }
        Err(e) => t.double_primaries.push(format!("{when}: {e}")),
    }
}

fn finish(w: &World, t: &mut Trial) {
    match read_back(w) {
        Ok(c) => {
            t.resources = c.resources();
            t.duplicates = c.duplicates();
        }
        Err(e) => t.duplicates.push(e),
    }
}
