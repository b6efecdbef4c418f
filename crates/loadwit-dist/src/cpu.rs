//! How busy this process keeps its machine, from `/proc/self/stat`.
//!
//! An agent that saturates its cores measures its own slowness as the
//! target's; the coordinator flags such agents. Reading one small file
//! per interval costs nothing next to the load.

use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc` times: `USER_HZ`, which Linux fixes
/// at 100 for user space on every architecture it exposes `/proc` on.
const TICKS_PER_SECOND: f64 = 100.0;

/// Measures this process's CPU use between calls.
pub struct CpuMeter {
    cores: f64,
    last: Option<(Duration, Instant)>,
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuMeter {
    /// A meter whose first [`sample`](Self::sample) covers the time
    /// since now.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        Self {
            cores,
            last: process_cpu_time().map(|cpu| (cpu, Instant::now())),
        }
    }

    /// CPU used since the last call as a fraction of all cores (1.0 is
    /// every core busy); `None` where `/proc` is not readable.
    pub fn sample(&mut self) -> Option<f64> {
        let now = (process_cpu_time()?, Instant::now());
        let (cpu, at) = self.last.replace(now)?;
        let wall = now.1.duration_since(at).as_secs_f64();
        if wall <= 0.0 {
            return None;
        }
        let used = now.0.saturating_sub(cpu).as_secs_f64();
        Some((used / wall / self.cores).min(1.0))
    }
}

/// User plus system time of this process so far.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&stat)
}

/// `utime` and `stime` are fields 14 and 15; the command name (field 2)
/// is in parentheses and may hold spaces, so fields are counted after
/// its closing one.
fn parse_stat(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((user + system) / TICKS_PER_SECOND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_past_odd_command_names() {
        let line = "4242 (load wit) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0";
        assert_eq!(parse_stat(line), Some(Duration::from_secs(3)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn a_busy_loop_shows_as_use() {
        let mut meter = CpuMeter::new();
        let until = Instant::now() + Duration::from_millis(300);
        let mut spin = 0u64;
        while Instant::now() < until {
            spin = spin.wrapping_add(1);
        }
        std::hint::black_box(spin);
        let used = meter.sample().expect("/proc is readable on Linux");
        assert!(used > 0.0 && used <= 1.0, "{used}");
    }
}
