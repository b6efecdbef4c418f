//! Human-readable numbers, shaped like k6's end-of-test summary, and
//! errors on one line.
//!
//! Durations are truncated, never rounded up, so `999.999ms` never shows as
//! `1s`; byte sizes are decimal (`kB`, `MB`) and rounded to one decimal below
//! ten; counts group thousands with commas.

use std::time::Duration;

const NANOS_PER_MICRO: u128 = 1_000;
const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SEC: u128 = 1_000_000_000;
const NANOS_PER_MIN: u128 = 60 * NANOS_PER_SEC;

/// Formats a duration the way k6 does: `0s`, `850ns`, `310µs`, `1.03ms`,
/// `2.31s`, `1m2s`, `1h1m1s`.
///
/// Below a minute the number is truncated to two decimals and trailing
/// zeros are dropped; from a minute on, seconds are whole.
pub fn format_duration(duration: Duration) -> String {
    let ns = duration.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < NANOS_PER_MICRO {
        return format!("{ns}ns");
    }
    if ns < NANOS_PER_MILLI {
        return format!("{}µs", truncated(ns, NANOS_PER_MICRO));
    }
    if ns < NANOS_PER_SEC {
        return format!("{}ms", truncated(ns, NANOS_PER_MILLI));
    }

    let below_minute = ns % NANOS_PER_MIN;
    let seconds = if ns > NANOS_PER_MIN {
        (below_minute / NANOS_PER_SEC).to_string()
    } else {
        truncated(below_minute, NANOS_PER_SEC)
    };
    let minutes = ns / NANOS_PER_MIN;
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// Formats a duration given in (possibly fractional) milliseconds, as
/// thresholds on time metrics observe them. Negative and non-finite values
/// show as `0s`.
pub fn format_millis(ms: f64) -> String {
    if !ms.is_finite() || ms <= 0.0 {
        return "0s".to_string();
    }
    format_duration(Duration::from_nanos((ms * 1e6).round() as u64))
}

/// `value / unit` truncated to two decimals, trailing zeros dropped.
fn truncated(value: u128, unit: u128) -> String {
    let hundredths = value * 100 / unit;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

/// Formats a byte count in decimal units as k6 does: `5 B`, `240 kB`,
/// `1.2 MB`, `12 MB`.
pub fn format_bytes(bytes: u64) -> String {
    format_bytes_f64(bytes as f64)
}

/// Formats a throughput in bytes per second: `2.4 MB/s`.
pub fn format_byte_rate(bytes_per_sec: f64) -> String {
    format!("{}/s", format_bytes_f64(bytes_per_sec))
}

fn format_bytes_f64(bytes: f64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if !bytes.is_finite() || bytes < 10.0 {
        return format!("{} B", trim_decimals(bytes.max(0.0), 1));
    }

    // Repeated division instead of a logarithm: `log(1e6) / log(1000)` can
    // land just below 2 and pick the wrong unit.
    let mut scaled = bytes;
    let mut unit = 0;
    while scaled >= 1000.0 && unit < UNITS.len() - 1 {
        scaled /= 1000.0;
        unit += 1;
    }
    let rounded = (scaled * 10.0 + 0.5).floor() / 10.0;
    let decimals = if rounded < 10.0 { 1 } else { 0 };
    format!("{rounded:.decimals$} {}", UNITS[unit])
}

/// Groups thousands with commas: `15,356`.
pub fn format_count(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Formats a plain number: whole numbers with grouped thousands, others
/// with at most two decimals (`20`, `1,024`, `0.53`).
pub fn format_number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let magnitude = value.abs();
    if magnitude.fract() == 0.0 && magnitude < u64::MAX as f64 {
        return format!("{sign}{}", format_count(magnitude as u64));
    }
    format!("{sign}{}", trim_decimals(magnitude, 2))
}

/// Formats a per-second rate: `4,200/s`, `15.3/s`, `0.53/s`. Rates of a
/// hundred and more are rounded to whole numbers.
pub fn format_rate(per_sec: f64) -> String {
    if per_sec.is_finite() && per_sec >= 100.0 {
        return format!("{}/s", format_count(per_sec.round() as u64));
    }
    format!("{}/s", format_number(per_sec))
}

/// Formats a fraction in `[0, 1]` as a percentage truncated to two decimals,
/// so a rate just short of one never reads `100.00%`.
pub fn format_percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "0.00%".to_string();
    }
    let hundredths = (fraction * 10_000.0).trunc() / 100.0;
    format!("{hundredths:.2}%")
}

fn trim_decimals(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// An error and its causes on one line, `outer: inner: root`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    join_causes(error.to_string(), error.source())
}

/// `text`, then `cause` and each of its own causes, each said once: a
/// cause whose words are already there (a wrapper repeating its inner
/// error's) is skipped.
pub fn join_causes(mut text: String, mut cause: Option<&dyn std::error::Error>) -> String {
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn durations_follow_k6() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_nanos(850)), "850ns");
        assert_eq!(format_duration(us(310)), "310µs");
        assert_eq!(format_duration(Duration::from_nanos(310_456)), "310.45µs");
        assert_eq!(format_duration(us(1_030)), "1.03ms");
        assert_eq!(format_duration(us(1_034_999)), "1.03s");
        assert_eq!(format_duration(us(45_100)), "45.1ms");
        assert_eq!(format_duration(us(999_999)), "999.99ms");
        assert_eq!(format_duration(us(2_310_000)), "2.31s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_duration(Duration::from_millis(62_500)), "1m2s");
        assert_eq!(format_duration(Duration::from_secs(3_661)), "1h1m1s");
    }

    #[test]
    fn millis_convert_to_durations() {
        assert_eq!(format_millis(2.31), "2.31ms");
        assert_eq!(format_millis(0.31), "310µs");
        assert_eq!(format_millis(-1.0), "0s");
    }

    #[test]
    fn bytes_are_decimal() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(5), "5 B");
        assert_eq!(format_bytes(999), "999 B");
        assert_eq!(format_bytes(240_000), "240 kB");
        assert_eq!(format_bytes(1_234_567), "1.2 MB");
        assert_eq!(format_bytes(1_000_000), "1.0 MB");
        assert_eq!(format_bytes(12_000_000), "12 MB");
        assert_eq!(format_byte_rate(2_400_000.0), "2.4 MB/s");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(15_356), "15,356");
        assert_eq!(format_count(1_234_567), "1,234,567");
    }

    #[test]
    fn numbers_rates_and_percents() {
        assert_eq!(format_number(20.0), "20");
        assert_eq!(format_number(0.525), "0.53");
        assert_eq!(format_number(-1500.0), "-1,500");
        assert_eq!(format_rate(15_355.98), "15,356/s");
        assert_eq!(format_rate(15.3), "15.3/s");
        assert_eq!(format_percent(0.8), "80.00%");
        assert_eq!(format_percent(0.999_99), "99.99%");
        assert_eq!(format_percent(0.0), "0.00%");
    }

    /// An error with fixed words and an optional cause.
    #[derive(Debug)]
    struct Wrapper(&'static str, Option<Box<dyn std::error::Error>>);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref()
        }
    }

    #[test]
    fn error_chains_say_each_cause_once() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let inner = Wrapper("tcp connect error", Some(Box::new(refused)));
        let outer = Wrapper("tcp connect error", Some(Box::new(inner)));
        assert_eq!(error_chain(&outer), "tcp connect error: refused");
        let plain = Wrapper("request failed", None);
        assert_eq!(error_chain(&plain), "request failed");
    }
}
