//! Process measurements for the benchmark reports: peak and current resident
//! memory from `/proc/self/status`, CPU time of a process, resetting the peak,
//! latency percentiles, and a
//! description of the machine (cores, CPU model, memory).

use std::time::Duration;

use serde::Serialize;

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Peak resident set size of this process in bytes (`VmHWM`), 0 when unknown.
pub fn peak_rss_bytes() -> u64 {
    status_kib("VmHWM:").unwrap_or(0) * 1024
}

/// Current resident set size in bytes (`VmRSS`), 0 when unknown.
pub fn rss_bytes() -> u64 {
    status_kib("VmRSS:").unwrap_or(0) * 1024
}

/// Resets the peak resident set size to the current one (Linux
/// `/proc/self/clear_refs`), so a later [`peak_rss_bytes`] covers only what came
/// after. Returns whether the kernel accepted it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/<pid>/stat` (`None`: this process); `None` when unknown. Linux reports
/// it in clock ticks of 1/100 s (`USER_HZ`, fixed for user space on x86_64).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces: fields are counted after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    // Fields 14 (utime) and 15 (stime); field 3 (state) is the first after ')'.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// Bytes as mebibytes with one decimal.
pub fn mib(bytes: u64) -> f64 {
    (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0
}

/// A duration in milliseconds with three decimals.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A duration in seconds with three decimals.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e3).round() / 1e3
}

/// A set of latencies and their summary.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: usize,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Latencies {
    /// An empty set.
    pub fn new() -> Latencies {
        Latencies::default()
    }

    /// Adds a sample.
    pub fn push(&mut self, d: Duration) {
        self.samples.push(d);
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    /// The `p` quantile (nearest rank, `p` in [0, 1]).
    pub fn quantile(&self, p: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort_unstable();
        if s.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p.clamp(0.0, 1.0) * s.len() as f64).ceil() as usize).clamp(1, s.len());
        s[rank - 1]
    }

    /// The summary.
    pub fn summary(&self) -> LatencySummary {
        let total: Duration = self.samples.iter().sum();
        let mean = if self.samples.is_empty() {
            Duration::ZERO
        } else {
            total / self.samples.len() as u32
        };
        LatencySummary {
            count: self.samples.len(),
            mean_ms: ms(mean),
            p50_ms: ms(self.quantile(0.50)),
            p90_ms: ms(self.quantile(0.90)),
            p99_ms: ms(self.quantile(0.99)),
            max_ms: ms(self.quantile(1.0)),
        }
    }
}

/// The machine a benchmark ran on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Cores available to this process (what `nproc` prints).
    pub nproc: usize,
    /// CPU model from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory in GiB from `/proc/meminfo`.
    pub memory_gib: f64,
    /// Operating system and architecture.
    pub os: String,
}

impl Machine {
    /// Describes this machine.
    pub fn describe() -> Machine {
        let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .map_or(0.0, |kib| (kib / 1_048_576.0 * 10.0).round() / 10.0);
        Machine {
            nproc,
            cpu_model,
            memory_gib,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}
