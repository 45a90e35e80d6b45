//! Running one tool once as a child process and measuring it: wall time, CPU time (user +
//! system, its reaped descendants included, from `wait4`), the peak resident memory of its
//! whole process tree (sampled from /proc every 10 ms: Terraform's work happens in its
//! provider plugin, a child process), and the API requests the proxy saw meanwhile: how
//! many, how long the tool waited on AWS (a request in flight, or a poll's interval: a gap
//! with none in flight that ends in a read made before in the same region), and in how many
//! rounds (the longest chain of requests each sent after the previous one was answered).

use standby_emulator::proxy::{Proxy, Span};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Run {
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_rss_mb: f64,
    pub requests: usize,
    /// Time with a request in flight or in a poll's interval.
    pub waiting: Duration,
    pub rounds: usize,
    /// standby's apply: its critical path and the chain of steps within it ([`crate::critical`]).
    pub critical: Option<(Duration, Duration)>,
    pub exit: i32,
}

/// Runs `command` to its end with stdout and stderr in `log`.
pub fn run(mut command: Command, proxy: &Proxy, log: &Path) -> Run {
    let out = std::fs::File::create(log).expect("a log file");
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("the log file"))
        .stderr(out);
    proxy.clear();
    let started = Instant::now();
    // Reaped by `wait4` below, which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    let pid = command.spawn().expect("the tool starts").id() as i32;
    let (done, peak) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(tree_rss_kb(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let (status, usage) = wait4(pid);
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("the sampler");
    let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
    // The largest single process, as the kernel saw it, bounds the sampled tree from below.
    let peak_kb = peak.load(Ordering::Relaxed).max(usage.ru_maxrss as u64);
    let spans = proxy.spans();
    write_spans(&spans, started, &log.with_extension("requests"));
    Run {
        wall,
        cpu,
        peak_rss_mb: peak_kb as f64 / 1024.0,
        requests: proxy.seen().len(),
        waiting: waiting(&spans),
        rounds: rounds(&spans),
        critical: None,
        exit: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
    }
}

/// The request log beside `log`: per request, when it arrived and was answered (ms after
/// the tool started), its region and operation, in order of arrival.
fn write_spans(spans: &[Span], started: Instant, path: &Path) {
    let mut spans: Vec<&Span> = spans.iter().collect();
    spans.sort_by_key(|s| s.start);
    let ms = |t: Instant| t.saturating_duration_since(started).as_millis();
    let lines: String = spans
        .iter()
        .map(|s| {
            format!(
                "{:>7} {:>7} {:<12} {}\n",
                ms(s.start),
                ms(s.end),
                s.region,
                s.operation
            )
        })
        .collect();
    let _ = std::fs::write(path, lines);
}

/// The union of the spans' intervals, and the gaps between them that end in a read
/// (`Describe…`, `Get…`, `List…`, REST `GET`) of an operation and region seen before: a
/// poll's interval, or a wait for a quota's next slot.
fn waiting(spans: &[Span]) -> Duration {
    let mut spans: Vec<&Span> = spans.iter().collect();
    spans.sort_by_key(|s| s.start);
    let read = |op: &str| {
        ["Describe", "Get", "List", "GET "]
            .iter()
            .any(|p| op.starts_with(p))
    };
    let mut seen = std::collections::HashSet::new();
    let mut total = Duration::ZERO;
    let mut covered: Option<Instant> = None;
    for s in spans {
        let again = !seen.insert((s.region.as_str(), s.operation.as_str()));
        match covered {
            Some(until) if s.start <= until => total += s.end.saturating_duration_since(until),
            Some(until) => {
                if again && read(&s.operation) {
                    total += s.start - until;
                }
                total += s.end - s.start;
            }
            None => total += s.end - s.start,
        }
        covered = Some(covered.map_or(s.end, |c| c.max(s.end)));
    }
    total
}

/// The longest chain of spans each starting after the one before it ended.
fn rounds(spans: &[Span]) -> usize {
    let mut by_end: Vec<usize> = (0..spans.len()).collect();
    by_end.sort_by_key(|&i| spans[i].end);
    let mut by_start = by_end.clone();
    by_start.sort_by_key(|&i| spans[i].start);
    // The chain ending at each span; the longest among the spans ended so far.
    let mut chain = vec![0; spans.len()];
    let (mut before, mut ended) = (0, 0);
    for i in by_start {
        while ended < by_end.len() && spans[by_end[ended]].end <= spans[i].start {
            before = before.max(chain[by_end[ended]]);
            ended += 1;
        }
        chain[i] = before + 1;
    }
    chain.into_iter().max().unwrap_or(0)
}

fn wait4(pid: i32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain data, and `pid` is our own child, reaped exactly once here.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    (status, usage)
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// The resident memory of `root` and every process below it, in KiB.
fn tree_rss_kb(root: i32) -> u64 {
    let mut parent = HashMap::new();
    let mut rss = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("PPid:") => {
                    parent.insert(pid, words.next().and_then(|w| w.parse().ok()).unwrap_or(0));
                }
                Some("VmRSS:") => {
                    rss.insert(pid, words.next().and_then(|w| w.parse().ok()).unwrap_or(0));
                }
                _ => {}
            }
        }
    }
    let below = |mut pid: i32| loop {
        if pid == root {
            return true;
        }
        match parent.get(&pid) {
            Some(&p) if p > 1 => pid = p,
            _ => return false,
        }
    };
    rss.iter()
        .filter(|(pid, _)| below(**pid))
        .map(|(_, kb)| kb)
        .sum()
}
