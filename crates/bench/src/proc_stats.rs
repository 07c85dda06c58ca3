//! Another process's memory and CPU time, read from /proc (Linux).

use anyhow::Context;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub rss_kb: u64,
    /// The high-water mark since the last `reset_peak`.
    pub peak_rss_kb: u64,
    pub cpu_seconds: f64,
}

#[derive(Debug)]
pub(crate) struct ProcStats {
    pid: u32,
}

/// Kernel clock ticks per second for /proc/*/stat times; 100 on every Linux we target.
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcStats {
    pub(crate) fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// Resets VmHWM to the current RSS, so the next peak belongs to the next measurement.
    pub(crate) fn reset_peak(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").context("cannot reset the peak RSS")
    }

    pub(crate) fn sample(&self) -> anyhow::Result<Sample> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status.lines().find(|l| l.starts_with(name)).with_context(|| format!("no {name}"))?;
            Ok(line.split_whitespace().nth(1).context("a value")?.parse()?)
        };
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the command name, which may itself contain spaces and parentheses.
        let fields: Vec<&str> = stat.rsplit_once(')').context("a stat line")?.1.split_whitespace().collect();
        let ticks =
            |i: usize| -> anyhow::Result<f64> { Ok(fields.get(i).context("a stat field")?.parse::<f64>()?) };
        // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
        let cpu_seconds = (ticks(11)? + ticks(12)?) / TICKS_PER_SECOND;
        Ok(Sample { rss_kb: field("VmRSS:")?, peak_rss_kb: field("VmHWM:")?, cpu_seconds })
    }
}
