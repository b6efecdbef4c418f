//! Durations as k6 writes them: Go's `time.ParseDuration` syntax.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// Parses `1h2m3s`, `1.5s`, `300ms`, `250us`, `0`. k6 takes Go's duration
/// syntax, so options blocks written for k6 keep working.
///
/// # Errors
///
/// Returns a message naming what is wrong, meant to follow the field name.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("is empty; write it like `30s` or `1m30s`".into());
    }
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative; durations must be positive"));
    }

    let mut total = 0.0_f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let unit_len = rest[number_len..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len() - number_len);
        let (number, unit) = (
            &rest[..number_len],
            &rest[number_len..number_len + unit_len],
        );
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration; write it like `30s` or `1m30s`"))?;
        total += value
            * unit_seconds(unit).ok_or_else(|| {
                format!("`{text}` has no known unit; use h, m, s, ms, us or ns, as in `1m30s`")
            })?;
        rest = &rest[number_len + unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "h" => 3600.0,
        "m" => 60.0,
        "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        _ => return None,
    })
}

/// Serde adapter: a duration string, or a number of milliseconds as k6
/// also accepts.
pub(crate) fn deserialize_opt<'de, D>(deserializer: D) -> Result<Option<Duration>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Millis(f64),
    }

    match Option::<Raw>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Raw::Text(text)) => parse_duration(&text).map(Some).map_err(de::Error::custom),
        Some(Raw::Millis(ms)) if ms >= 0.0 && ms.is_finite() => {
            Ok(Some(Duration::from_secs_f64(ms / 1000.0)))
        }
        Some(Raw::Millis(ms)) => Err(de::Error::custom(format!(
            "`{ms}` is negative; durations must be positive"
        ))),
    }
}

/// Serde adapter: a duration as text [`parse_duration`] reads back, in
/// the largest whole unit (`90s`, `1500ms`, `250us`), so a layer written
/// out and read again resolves to the same plan.
pub(crate) fn serialize_opt<S>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
{
    match value {
        None => serializer.serialize_none(),
        Some(duration) => serializer.serialize_str(&format_duration(*duration)),
    }
}

fn format_duration(duration: Duration) -> String {
    let ns = duration.as_nanos();
    if ns == 0 {
        return "0".into();
    }
    for (unit, size) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if ns.is_multiple_of(size) {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{ns}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_durations_parse() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn written_durations_read_back() {
        for ms in [0, 1, 250, 1_500, 30_000, 90_000, 3_600_000] {
            let duration = Duration::from_millis(ms);
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
        assert_eq!(format_duration(Duration::from_micros(1_250)), "1250us");
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for bad in ["", "30", "abc", "-5s", "5 parsecs", "1x"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }
}
