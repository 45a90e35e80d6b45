//! The reliability harness (issue 12): the real `standby` binary against a private moto per
//! trial, killed with SIGKILL during apply and during promote, and run through the project's
//! proxy answering a share of requests with 5xx and throttling errors. Prints the figures
//! RELIABILITY.md records. Run on demand, never as part of the test suite:
//!
//! `cargo bench --profile dev --bench reliability -- --apply-kills 50 --promote-kills 20 --runs 5`

mod faults;
mod kills;
mod readback;
mod world;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::Parser;
use kills::Trial;

#[derive(Parser)]
#[command(about = "kill -9 and fault trials of the standby binary against the emulator")]
struct Args {
    /// Kill points during apply (0 skips them)
    #[arg(long, default_value_t = 50)]
    apply_kills: usize,
    /// Kill points during promote (0 skips them)
    #[arg(long, default_value_t = 20)]
    promote_kills: usize,
    /// Fault rates to run apply, plan, drift and promote at
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3")]
    fault_rates: Vec<f64>,
    /// Runs per command and fault rate (0 skips the fault runs)
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Trials at once, each with its own emulator
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// The `standby` binary to run (default: the one cargo built with this bench)
    #[arg(long)]
    standby: Option<std::path::PathBuf>,
    /// Passed by `cargo bench`
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    if let Some(binary) = args.standby.clone() {
        world::BINARY
            .set(binary)
            .expect("set once, before any trial");
    }
    let started = std::time::Instant::now();
    let expected = kills::calibrate();
    eprintln!(
        "calibration: a full apply prints {} progress lines, a full promote {}",
        expected.apply_lines, expected.promote_lines
    );
    let apply_points = kills::points(args.apply_kills, expected.apply_lines);
    let apply = parallel(&apply_points, args.jobs, "kill -9 apply", |p| {
        let t = kills::apply_trial(*p);
        (t.summary(), t)
    });
    let promote_points = kills::points(args.promote_kills, expected.promote_lines);
    let promote = parallel(&promote_points, args.jobs, "kill -9 promote", |p| {
        let t = kills::promote_trial(*p, &expected);
        (t.summary(), t)
    });
    let mut runs = Vec::new();
    for command in faults::COMMANDS {
        for &rate in &args.fault_rates {
            runs.extend((0..args.runs as u64).map(|seed| (command, rate, seed + 1)));
        }
    }
    let faults = parallel(&runs, args.jobs, "faults", |(c, r, s)| {
        let o = faults::run(c, *r, *s);
        (format!("{c} at {r}, seed {s}: {o:?}"), o)
    });

    println!(
        "\nkill -9 ({} progress lines in a full apply, {} in a full promote)",
        expected.apply_lines, expected.promote_lines
    );
    println!(
        "{:<18}{:>8}{:>8}{:>8}{:>8}{:>11}{:>12}{:>14}",
        "scenario",
        "trials",
        "landed",
        "loads",
        "passes",
        "converged",
        "duplicates",
        "double prim."
    );
    kill_row("apply", &apply);
    kill_row("promote", &promote);
    println!("\nfaults (5xx and throttling through the proxy): passes/runs");
    let rates: Vec<String> = args
        .fault_rates
        .iter()
        .map(|r| format!("rate {r}"))
        .collect();
    println!(
        "{:<18}{}",
        "command",
        rates.iter().map(|r| format!("{r:>10}")).collect::<String>()
    );
    for command in faults::COMMANDS {
        let cells: String = args
            .fault_rates
            .iter()
            .map(|&rate| {
                let mine: Vec<_> = runs
                    .iter()
                    .zip(&faults)
                    .filter(|((c, r, _), _)| *c == command && *r == rate)
                    .collect();
                let passed = mine.iter().filter(|(_, o)| o.is_ok()).count();
                format!("{:>10}", format!("{passed}/{}", mine.len()))
            })
            .collect();
        println!("{command:<18}{cells}");
    }
    println!("\nfailures");
    failures("apply kill", &apply_points, &apply);
    failures("promote kill", &promote_points, &promote);
    for ((c, r, s), o) in runs.iter().zip(&faults) {
        if let Err(e) = o {
            println!("  {c} at {r}, seed {s}: {e}");
        }
    }
    println!(
        "\ntook {:.0} s with {} jobs",
        started.elapsed().as_secs_f64(),
        args.jobs
    );
}

fn kill_row(name: &str, trials: &[Trial]) {
    let n = |f: fn(&Trial) -> bool| trials.iter().filter(|t| f(t)).count();
    let duplicates: usize = trials.iter().map(|t| t.duplicates.len()).sum();
    let doubles = trials
        .iter()
        .filter(|t| !t.double_primaries.is_empty())
        .count();
    let resources = trials.iter().map(|t| t.resources).min().unwrap_or(0);
    println!(
        "{name:<18}{:>8}{:>8}{:>8}{:>8}{:>11}{:>12}{:>14}   (>= {resources} resources read back per trial)",
        trials.len(), n(|t| t.landed), n(|t| t.loads), n(Trial::passed), n(|t| t.converged), duplicates, doubles
    );
}

fn failures(name: &str, points: &[kills::Point], trials: &[Trial]) {
    for (i, (p, t)) in points
        .iter()
        .zip(trials)
        .enumerate()
        .filter(|(_, (_, t))| !t.passed())
    {
        let detail = t
            .cause
            .iter()
            .chain(&t.duplicates)
            .chain(&t.double_primaries);
        let detail: Vec<&String> = detail.collect();
        println!(
            "  {name} #{i} (line {} +{}ms, {}): {detail:?}",
            p.line,
            p.delay.as_millis(),
            t.point
        );
    }
}

/// Runs `f` on every item, `jobs` at once, and returns the results in order; prints each
/// result's line as it comes, so that an interrupted run still shows what it measured.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    what: &str,
    f: impl Fn(&T) -> (String, R) + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let (line, r) = f(item);
                results.lock().unwrap()[i] = Some(r);
                let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                eprintln!("{what} {d}/{} (#{i}): {line}", items.len());
            });
        }
    });
    let results = results.into_inner().unwrap();
    results
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}
