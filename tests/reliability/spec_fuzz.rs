//! Spec loader fuzz, run on demand (see RELIABILITY.md):
//!
//!     cargo test --test spec_fuzz -- --specs 10000 --seed 1
//!
//! Mutates the repository's own specs (`environments/demo`, `modules/worker-tier`) with a
//! seeded generator (truncations, byte flips, line and token shuffles, huge numbers,
//! division by zero, deep nesting, NUL characters, special files ...), loads each mutant in
//! this process as `standby validate` does, and prints: specs, panics (every panic, also
//! those the loader would catch itself), diagnostics without a location, and the slowest
//! load. Exits 1 when anything panicked or a diagnostic had no location.

use clap::Parser;
use standby::config::{load, Diagnostic, VarInputs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod mutate;

#[derive(Parser)]
struct Args {
    /// How many mutated specs to load
    #[arg(long, default_value_t = 10_000)]
    specs: usize,
    /// Seed of the generator: the same seed makes the same specs
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

static PANICS: AtomicUsize = AtomicUsize::new(0);
static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// The environment and module files the mutants are made from, as the repository has them.
const ENV_FILE: &str = "environments/demo/main.hcl";
const MODULE_FILE: &str = "modules/worker-tier/main.hcl";

struct Tally {
    loaded: usize,
    rejected: usize,
    diagnostics: usize,
    unlocated: Vec<String>,
    slowest: (Duration, String),
}

fn main() {
    let args = Args::parse();
    std::panic::set_hook(Box::new(|info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        let mut first = FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert_with(|| info.to_string());
    }));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let originals = [ENV_FILE, MODULE_FILE]
        .map(|rel| std::fs::read(repo.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")));
    let work = tempfile::tempdir().expect("a temporary directory");
    // A file for the mutants' `file("../motd.txt")` calls to read.
    write(&work.path().join("environments/motd.txt"), b"hello");

    let mut rng = mutate::Rng::new(args.seed);
    let mut tally = Tally {
        loaded: 0,
        rejected: 0,
        diagnostics: 0,
        unlocated: Vec::new(),
        slowest: (Duration::ZERO, String::new()),
    };
    let started = Instant::now();
    for case in 0..args.specs {
        let target = if rng.below(5) == 0 { 1 } else { 0 };
        let (mutant, applied) = mutate::mutate(&mut rng, &originals[target]);
        for (i, rel) in [ENV_FILE, MODULE_FILE].iter().enumerate() {
            let bytes = if i == target { &mutant } else { &originals[i] };
            write(&work.path().join(rel), bytes);
        }
        let env_dir = work.path().join("environments/demo");
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| load(&env_dir, &VarInputs::default())));
        let took = t.elapsed();
        if took > tally.slowest.0 {
            tally.slowest = (took, format!("case {case}: {}", applied.join(", ")));
        }
        match result {
            Ok(Ok(_)) => tally.loaded += 1,
            Ok(Err(diagnostics)) => {
                tally.rejected += 1;
                tally.diagnostics += diagnostics.0.len();
                for d in &diagnostics.0 {
                    if !located(d) {
                        tally
                            .unlocated
                            .push(format!("case {case} ({}): {d}", applied.join(", ")));
                    }
                }
            }
            // Counted by the hook.
            Err(_) => {}
        }
    }
    report(&args, &tally, started.elapsed());
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).expect("directory");
    std::fs::write(path, bytes).expect("write");
}

/// A diagnostic is located when it names a file and a line and column inside it.
fn located(d: &Diagnostic) -> bool {
    if d.file.as_os_str().is_empty() || d.line == 0 || d.column == 0 {
        return false;
    }
    match std::fs::read(&d.file) {
        // A whole-file problem (a special file, an unreadable one) points at 1:1.
        Err(_) => d.line == 1 && d.column == 1,
        Ok(bytes) => d.line <= bytes.split(|b| *b == b'\n').count(),
    }
}

fn report(args: &Args, tally: &Tally, total: Duration) {
    let panics = PANICS.load(Ordering::SeqCst);
    println!(
        "spec loader fuzz: seed {}, mutants of {ENV_FILE} and {MODULE_FILE}",
        args.seed
    );
    println!("  specs:                          {}", args.specs);
    println!("  loaded without diagnostics:     {}", tally.loaded);
    println!(
        "  rejected with diagnostics:      {} ({} diagnostics)",
        tally.rejected, tally.diagnostics
    );
    println!("  panics:                         {panics}");
    println!(
        "  diagnostics without a location: {}",
        tally.unlocated.len()
    );
    println!(
        "  max time per spec:              {:.1} ms ({})",
        tally.slowest.0.as_secs_f64() * 1000.0,
        tally.slowest.1
    );
    println!(
        "  total time:                     {:.1} s",
        total.as_secs_f64()
    );
    if let Some(first) = FIRST_PANIC
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        println!("first panic: {first}");
    }
    for u in tally.unlocated.iter().take(5) {
        println!("unlocated: {u}");
    }
    if panics > 0 || !tally.unlocated.is_empty() {
        std::process::exit(1);
    }
}
