//! The k6 options that shape tags and results rather than load: `tags`,
//! `systemTags`, `summaryTrendStats` and `summaryTimeUnit`.
//!
//! The engine keeps options it does not schedule by as raw JSON; they are
//! parsed into types here, once, before the run starts.

use std::collections::BTreeMap;

use loadwit_metrics::{TimeUnit, TrendStat};
use serde_json::Value;

/// The option keys read here, so they are not reported as unsupported.
pub const KEYS: [&str; 4] = ["tags", "systemTags", "summaryTrendStats", "summaryTimeUnit"];

/// Result-shaping options, parsed.
#[derive(Debug, Default, PartialEq)]
pub struct Settings {
    /// Tags on every sample of the run (`tags`, then `--tag`).
    pub run_tags: BTreeMap<String, String>,
    /// The system tags kept on samples; all of them when `None`.
    pub system_tags: Option<Vec<String>>,
    /// Trend statistics the summary shows; k6's default when `None`.
    pub trend_stats: Option<Vec<TrendStat>>,
    /// The unit of every duration in the text summary.
    pub time_unit: Option<TimeUnit>,
}

impl Settings {
    /// Reads the keys of [`KEYS`] from the options' raw extra keys.
    ///
    /// # Errors
    ///
    /// A one-line message naming the field when one has the wrong shape.
    pub fn from_options(extra: &BTreeMap<String, Value>) -> Result<Settings, String> {
        let mut settings = Settings::default();
        if let Some(value) = extra.get("tags") {
            settings.run_tags = string_map("tags", value)?;
        }
        if let Some(value) = extra.get("systemTags") {
            settings.system_tags = Some(strings("systemTags", value)?);
        }
        if let Some(value) = extra.get("summaryTrendStats") {
            settings.trend_stats = Some(trend_stats(value)?);
        }
        if let Some(value) = extra.get("summaryTimeUnit") {
            settings.time_unit = Some(time_unit(value)?);
        }
        Ok(settings)
    }
}

/// The options that shape the summary (`summaryTrendStats`,
/// `summaryTimeUnit`), raw, as a result file carries them to `loadwit
/// merge`; [`Settings::from_options`] reads them back.
pub fn summary_options(extra: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    ["summaryTrendStats", "summaryTimeUnit"]
        .into_iter()
        .filter_map(|key| Some((key.to_owned(), extra.get(key)?.clone())))
        .collect()
}

fn string_map(field: &str, value: &Value) -> Result<BTreeMap<String, String>, String> {
    let wrong =
        || format!("`{field}` must map tag names to strings; write it like {{\"env\": \"ci\"}}");
    let object = value.as_object().ok_or_else(wrong)?;
    object
        .iter()
        .map(|(key, value)| Ok((key.clone(), value.as_str().ok_or_else(wrong)?.to_string())))
        .collect()
}

fn strings(field: &str, value: &Value) -> Result<Vec<String>, String> {
    let wrong =
        || format!("`{field}` must be a list of strings; write it like [\"status\", \"name\"]");
    let list = value.as_array().ok_or_else(wrong)?;
    list.iter()
        .map(|item| item.as_str().map(str::to_string).ok_or_else(wrong))
        .collect()
}

fn trend_stats(value: &Value) -> Result<Vec<TrendStat>, String> {
    let texts = strings("summaryTrendStats", value)?;
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            TrendStat::parse(text).ok_or_else(|| {
                format!(
                    "`summaryTrendStats[{i}]` is `{text}`, not a trend statistic; \
                     use avg, min, med, max, count or p(N)"
                )
            })
        })
        .collect()
}

fn time_unit(value: &Value) -> Result<TimeUnit, String> {
    let text = value.as_str().unwrap_or_default();
    TimeUnit::parse(text).ok_or_else(|| {
        format!("`summaryTimeUnit` is `{value}`, not a time unit; use \"s\", \"ms\" or \"us\"")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Result<Settings, String> {
        let extra: BTreeMap<String, Value> = serde_json::from_str(json).expect("test JSON");
        Settings::from_options(&extra)
    }

    #[test]
    fn options_parse_into_types() {
        let s = settings(
            r#"{"tags": {"env": "ci"}, "systemTags": ["status"],
                "summaryTrendStats": ["avg", "p(99.9)", "count"], "summaryTimeUnit": "ms"}"#,
        )
        .unwrap();
        assert_eq!(s.run_tags["env"], "ci");
        assert_eq!(s.system_tags, Some(vec!["status".to_string()]));
        assert_eq!(s.trend_stats.as_ref().map(Vec::len), Some(3));
        assert_eq!(s.time_unit, Some(TimeUnit::Millis));
    }

    #[test]
    fn bad_fields_are_named() {
        let err = settings(r#"{"summaryTrendStats": ["avg", "p(200)"]}"#).unwrap_err();
        assert!(
            err.starts_with("`summaryTrendStats[1]` is `p(200)`"),
            "{err}"
        );
        let err = settings(r#"{"summaryTimeUnit": "minutes"}"#).unwrap_err();
        assert!(err.contains("`summaryTimeUnit`"), "{err}");
        let err = settings(r#"{"tags": {"env": 1}}"#).unwrap_err();
        assert!(err.contains("`tags`"), "{err}");
    }
}
