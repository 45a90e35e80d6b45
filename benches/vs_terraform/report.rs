//! The printed table: per case, latency and parallelism, each tool's runs summarised, the
//! terraform/standby ratios, and each goal of BENCHMARKS.md with the figure measured here.

use crate::measure::Run;
use crate::tools::{Case, Layout, Tool};
use std::time::{Duration, Instant};

type Key = (Case, Duration, Option<u32>);

#[derive(Default)]
pub struct Table {
    rows: Vec<(Key, Tool, usize, Run)>,
}

/// What one tool did over the repeats of one case.
struct Summary {
    median: f64,
    min: f64,
    max: f64,
    requests: usize,
    per_resource: f64,
    cpu: f64,
    peak_mb: f64,
    exits: Vec<i32>,
    rounds: usize,
    /// Wall minus the time waiting on AWS (requests in flight, poll intervals).
    own: f64,
    /// Critical path and wall/critical (standby's apply).
    critical: Option<(f64, f64)>,
}

impl Table {
    pub fn add(
        &mut self,
        case: Case,
        latency: Duration,
        p: Option<u32>,
        tool: Tool,
        managed: usize,
        run: Run,
    ) {
        self.rows.push(((case, latency, p), tool, managed, run));
    }

    fn keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = Vec::new();
        for (k, ..) in &self.rows {
            if !keys.contains(k) {
                keys.push(*k);
            }
        }
        keys
    }

    fn summary(&self, key: Key, tool: Tool) -> Option<Summary> {
        let runs: Vec<(&Run, usize)> = self
            .rows
            .iter()
            .filter(|(k, t, ..)| *k == key && *t == tool)
            .map(|(_, _, m, r)| (r, *m))
            .collect();
        if runs.is_empty() {
            return None;
        }
        let mut walls: Vec<f64> = runs.iter().map(|(r, _)| r.wall.as_secs_f64()).collect();
        walls.sort_by(f64::total_cmp);
        let median_of = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let requests = median_of(runs.iter().map(|(r, _)| r.requests as f64).collect()) as usize;
        let managed = runs.iter().map(|(_, m)| *m).max().unwrap_or(0).max(1);
        Some(Summary {
            median: walls[walls.len() / 2],
            min: walls[0],
            max: walls[walls.len() - 1],
            requests,
            per_resource: requests as f64 / managed as f64,
            cpu: median_of(runs.iter().map(|(r, _)| r.cpu.as_secs_f64()).collect()),
            peak_mb: runs.iter().map(|(r, _)| r.peak_rss_mb).fold(0.0, f64::max),
            exits: runs.iter().map(|(r, _)| r.exit).collect(),
            rounds: median_of(runs.iter().map(|(r, _)| r.rounds as f64).collect()) as usize,
            own: median_of(
                runs.iter()
                    .map(|(r, _)| r.wall.saturating_sub(r.waiting).as_secs_f64())
                    .collect(),
            ),
            critical: {
                let paths: Vec<(f64, f64)> = runs
                    .iter()
                    .filter_map(|(r, _)| {
                        let (path, _) = r.critical?;
                        Some((
                            path.as_secs_f64(),
                            r.wall.as_secs_f64() / path.as_secs_f64(),
                        ))
                    })
                    .collect();
                (!paths.is_empty()).then(|| {
                    (
                        median_of(paths.iter().map(|p| p.0).collect()),
                        median_of(paths.iter().map(|p| p.1).collect()),
                    )
                })
            },
        })
    }

    pub fn print(&self) {
        for key @ (case, latency, p) in self.keys() {
            let p = p.map_or("each tool's default".to_string(), |n| n.to_string());
            println!(
                "\n{case:?} at {} ms latency, parallelism {p}",
                latency.as_millis()
            );
            println!(
                "  {:<10} {:>26} {:>9} {:>13} {:>9} {:>12}  exit",
                "tool", "wall median [range]", "requests", "per resource", "cpu", "peak memory"
            );
            let [s, t] = [Tool::Standby, Tool::Terraform].map(|tool| self.summary(key, tool));
            for (tool, sum) in [(Tool::Standby, &s), (Tool::Terraform, &t)] {
                let Some(m) = sum else { continue };
                println!(
                    "  {:<10} {:>26} {:>9} {:>13.3} {:>8.2}s {:>9.0} MB  {:?}",
                    tool.name(),
                    format!("{:.2} s [{:.2}-{:.2}]", m.median, m.min, m.max),
                    m.requests,
                    m.per_resource,
                    m.cpu,
                    m.peak_mb,
                    m.exits
                );
            }
            for (tool, sum) in [(Tool::Standby, &s), (Tool::Terraform, &t)] {
                let Some(m) = sum else { continue };
                let critical = m.critical.map_or(String::new(), |(path, ratio)| {
                    format!("; critical path {path:.2} s, wall/critical {ratio:.2}x")
                });
                println!(
                    "    {}: {} rounds of requests, own time (wall minus waiting on AWS) {:.2} s{critical}",
                    tool.name(),
                    m.rounds,
                    m.own
                );
            }
            if let (Some(s), Some(t)) = (s, t) {
                println!(
                    "  terraform/standby: wall {:.1}x, requests {:.1}x, cpu {:.1}x, memory {:.1}x",
                    t.median / s.median,
                    t.requests as f64 / s.requests.max(1) as f64,
                    t.cpu / s.cpu,
                    t.peak_mb / s.peak_mb
                );
            }
        }
    }

    /// Each goal with the figure measured in this run (`-` when its case was not run).
    pub fn goals(&self, web_size: u32) {
        let at = |case, ms: u64, p| {
            let key = (case, Duration::from_millis(ms), p);
            Some((
                self.summary(key, Tool::Standby)?,
                self.summary(key, Tool::Terraform)?,
            ))
        };
        println!("\ngoals (layout: web cluster {web_size}; the speed goals name the 2,000-instance layout, --web-size 1332;\n  per resource: of the tool's state and the instances of its Auto Scaling groups)");
        for case in [Case::Plan, Case::Drift] {
            let per = self
                .keys()
                .into_iter()
                .filter(|k| k.0 == case)
                .filter_map(|k| self.summary(k, Tool::Standby))
                .map(|s| s.per_resource)
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
            goal(
                &format!("{case:?}: <= 0.1 requests per managed resource"),
                per.map(|x| (format!("{x:.3}"), x <= 0.1)),
            );
            let ratio = at(case, 50, None).map(|(s, t)| t.median / s.median);
            goal(
                &format!("{case:?}: >= 20x faster than Terraform at 50 ms"),
                ratio.map(|r| (format!("{r:.1}x"), r >= 20.0)),
            );
        }
        let apply = at(Case::Apply, 50, Some(10)).map(|(s, t)| t.median / s.median);
        goal(
            "apply from empty: >= 3x faster at the same parallelism at 50 ms",
            apply.map(|r| (format!("{r:.1}x"), r >= 3.0)),
        );
        let critical = self
            .keys()
            .into_iter()
            .filter(|k| k.0 == Case::Apply)
            .filter_map(|k| self.summary(k, Tool::Standby)?.critical)
            .map(|(_, ratio)| ratio)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        goal(
            "apply from empty: wall within 1.3x of the critical path",
            critical.map(|r| (format!("{r:.2}x"), r <= 1.3)),
        );
        let worst = |case, pick: fn(&Summary) -> f64| {
            self.keys()
                .into_iter()
                .filter(|k| k.0 == case)
                .filter_map(|k| self.summary(k, Tool::Standby))
                .map(|s| pick(&s))
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
        };
        goal(
            "promote: the tool's own time (wall minus waiting on AWS) <= 1 s",
            worst(Case::Promote, |s| s.own).map(|x| (format!("{x:.2} s"), x <= 1.0)),
        );
        goal(
            "promote: the tool's CPU time <= 1 s",
            worst(Case::Promote, |s| s.cpu).map(|x| (format!("{x:.2} s"), x <= 1.0)),
        );
        let memory = self
            .keys()
            .into_iter()
            .filter(|k| k.0 == Case::Plan)
            .filter_map(|k| self.summary(k, Tool::Standby))
            .map(|s| s.peak_mb)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        goal(
            "plan: peak memory <= 100 MB",
            memory.map(|x| (format!("{x:.0} MB"), x <= 100.0)),
        );
    }
}

fn goal(what: &str, measured: Option<(String, bool)>) {
    match measured {
        Some((figure, met)) => println!(
            "  {:<66} {figure:>9}  {}",
            what,
            if met { "met" } else { "NOT MET" }
        ),
        None => println!("  {what:<66} {:>9}  not run", "-"),
    }
}

/// `standby validate` of the layout's spec: the median of 11 runs against the 50 ms goal.
pub fn validate(layout: &Layout) {
    let mut walls: Vec<f64> = (0..11)
        .map(|_| {
            let t = Instant::now();
            let out = layout
                .standby(&["validate", "environments/demo"], &[])
                .output()
                .expect("validate runs");
            assert!(
                out.status.success(),
                "validate: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    goal(
        "validate of the spec: <= 50 ms (median of 11, process start included)",
        Some((format!("{median:.0} ms"), median <= 50.0)),
    );
}
