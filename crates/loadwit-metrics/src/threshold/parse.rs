//! Parsers for threshold expressions, metric keys, the CLI form and the
//! options object.

use std::time::Duration;

use serde_json::Value;

use super::{Aggregation, Op, Threshold};
use crate::metric::{Builtin, FAILED_ITERATIONS, GROUP_DURATION, MetricKind};

/// Why a threshold was rejected. Messages are lowercase, quote the
/// offending text in backticks and end with a hint after a semicolon.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    /// The expression is blank.
    #[error("threshold on `{metric}` is empty; write it like `{example}`")]
    Empty {
        /// Metric the threshold is on.
        metric: String,
        /// A valid expression for that metric.
        example: String,
    },
    /// The expression is not `<aggregation> <operator> <number>`.
    #[error("`{expression}` on `{metric}` does not parse: {reason}; write it like `{example}`")]
    Syntax {
        /// Metric the threshold is on.
        metric: String,
        /// The expression as written.
        expression: String,
        /// What was expected where.
        reason: String,
        /// A valid expression close to the one written.
        example: String,
    },
    /// The aggregation does not exist for the kind of built-in metric.
    #[error(
        "`{expression}` on `{metric}` uses `{method}`, \
         which {kind} metrics do not have; use {valid}"
    )]
    WrongMethod {
        /// Metric the threshold is on.
        metric: String,
        /// The expression as written.
        expression: String,
        /// The aggregation used.
        method: String,
        /// The metric's kind.
        kind: MetricKind,
        /// The aggregations the kind has.
        valid: &'static str,
    },
    /// The metric name or its tag filter is malformed.
    #[error(
        "`{key}` is not a metric name with an optional tag filter: {reason}; \
         write it like `http_req_duration{{name:login}}`"
    )]
    MetricKey {
        /// The key as written.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The name is no built-in metric's but nearly one's: most likely a
    /// typo, which would otherwise pass as a metric without samples.
    #[error(
        "`{metric}` is not a built-in metric; did you mean `{builtin}`? \
         (a custom metric needs a name further from the built-in ones)"
    )]
    NearBuiltin {
        /// The name as written.
        metric: String,
        /// The built-in metric it is close to.
        builtin: &'static str,
    },
    /// The CLI form lacks a metric, a colon or an expression.
    #[error(
        "`{text}` is not a threshold: expected a metric, a colon and an expression; \
         write it like `http_req_duration: p(95)<500`"
    )]
    Cli {
        /// The text as given.
        text: String,
    },
    /// A field of the options' `thresholds` object has the wrong shape.
    #[error("`{field}` {reason}; write it like `{example}`")]
    Options {
        /// Path of the field, such as `thresholds.http_req_failed[0]`.
        field: String,
        /// What is wrong with it.
        reason: String,
        /// A valid value.
        example: String,
    },
}

/// Splits the CLI form `metric{filter}: expression` at the first colon
/// outside the tag filter, returning the trimmed metric key (filter
/// included, as written) and expression.
///
/// # Errors
///
/// [`ThresholdError::Cli`] when there is no such colon or either side is
/// blank.
pub fn parse_cli_threshold(text: &str) -> Result<(String, String), ThresholdError> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                let (metric, expression) = (text[..i].trim(), text[i + 1..].trim());
                if metric.is_empty() || expression.is_empty() {
                    break;
                }
                return Ok((metric.to_string(), expression.to_string()));
            }
            _ => {}
        }
    }
    Err(ThresholdError::Cli {
        text: text.trim().to_string(),
    })
}

/// Built-in names shorter than this (`vus`, `checks`) allow one edit as
/// a typo; longer ones two.
const LONG_NAME: usize = 7;

/// Refuses a name a typo or two away from a built-in metric's. Custom
/// metrics are declared while the test runs, so a threshold on an
/// unknown name cannot be refused up front as k6 does; a near miss of a
/// built-in name is the mistake worth catching before the run.
pub(super) fn near_builtin(metric: &str) -> Result<(), ThresholdError> {
    let builtins = || {
        Builtin::ALL
            .into_iter()
            .map(Builtin::name)
            .chain([GROUP_DURATION, FAILED_ITERATIONS])
    };
    if builtins().any(|name| name == metric) {
        return Ok(());
    }
    let near = builtins().find(|name| {
        let typo = if name.len() < LONG_NAME { 1 } else { 2 };
        strsim::damerau_levenshtein(metric, name) <= typo
    });
    match near {
        Some(builtin) => Err(ThresholdError::NearBuiltin {
            metric: metric.to_string(),
            builtin,
        }),
        None => Ok(()),
    }
}

/// The kind of a metric the host records, so its aggregations can be
/// checked before the run; `None` for a custom metric.
///
/// # Errors
///
/// A tag filter on `failed_iterations`, which is counted without tags.
pub(super) fn known_kind(
    key: &str,
    metric: &str,
    filter: &[(String, String)],
) -> Result<Option<MetricKind>, ThresholdError> {
    if metric == FAILED_ITERATIONS {
        if !filter.is_empty() {
            return Err(ThresholdError::MetricKey {
                key: key.to_string(),
                reason: format!(
                    "`{FAILED_ITERATIONS}` is counted without tags, so it takes no filter"
                ),
            });
        }
        return Ok(Some(MetricKind::Counter));
    }
    Ok(Builtin::from_name(metric).map(Builtin::kind))
}

/// Parses `name` or `name{key:value,...}`.
pub(super) fn metric_key(key: &str) -> Result<(String, Vec<(String, String)>), ThresholdError> {
    let error = |reason: &str| ThresholdError::MetricKey {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = key.trim();

    // The filter runs from the first `{` to the final `}`, so values such
    // as `/users/{id}` keep their braces.
    let (name, filter) = match trimmed.find('{') {
        None => (trimmed, None),
        Some(open) => {
            let Some(inner) = trimmed[open + 1..].strip_suffix('}') else {
                return Err(error("the tag filter does not end with `}`"));
            };
            (trimmed[..open].trim(), Some(inner))
        }
    };

    if name.is_empty() {
        return Err(error("the metric name is missing"));
    }
    let valid_name = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid_name {
        return Err(error(
            "metric names are letters, digits and `_`, not starting with a digit",
        ));
    }

    let pairs = match filter {
        None => Vec::new(),
        Some(filter) => tag_filter(filter).map_err(|reason| error(&reason))?,
    };
    Ok((name.to_string(), pairs))
}

fn tag_filter(filter: &str) -> Result<Vec<(String, String)>, String> {
    if filter.trim().is_empty() {
        return Err("the tag filter is empty".to_string());
    }
    filter
        .split(',')
        .map(|pair| {
            let Some((key, value)) = pair.split_once(':') else {
                return Err(format!(
                    "`{}` has no `:` between tag and value",
                    pair.trim()
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || value.is_empty() {
                return Err(format!("`{}` needs both a tag and a value", pair.trim()));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// Parses `<aggregation> <operator> <number>`, checking the aggregation
/// against `kind` when the metric is built in.
pub(super) fn expression(
    metric: &str,
    kind: Option<MetricKind>,
    text: &str,
) -> Result<(Aggregation, Op, f64), ThresholdError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ThresholdError::Empty {
            metric: metric.to_string(),
            example: kind_example(kind).to_string(),
        });
    }
    let syntax = |reason: String, example: String| ThresholdError::Syntax {
        metric: metric.to_string(),
        expression: text.to_string(),
        reason,
        example,
    };

    let (method, rest) =
        split_method(text).map_err(|reason| syntax(reason, kind_example(kind).into()))?;
    let aggregation =
        aggregation(method, kind).map_err(|reason| syntax(reason, kind_example(kind).into()))?;
    let example = aggregation_example(aggregation);

    let rest = rest.trim_start();
    let op_len = rest.find(|c| !"<>=!".contains(c)).unwrap_or(rest.len());
    let op_text = &rest[..op_len];
    let Some(op) = operator(op_text) else {
        return Err(syntax(
            format!("expected an operator after `{method}`"),
            example,
        ));
    };

    let number = rest[op_len..].trim();
    if number.is_empty() {
        return Err(syntax(
            format!("expected a number after `{op_text}`"),
            example,
        ));
    }
    let Some(value) = number.parse::<f64>().ok().filter(|v| v.is_finite()) else {
        let reason = format!("expected a number after `{op_text}`, found `{number}`");
        return Err(syntax(reason, example));
    };

    if let Some(kind) = kind
        && !aggregation.applies_to(kind)
    {
        return Err(ThresholdError::WrongMethod {
            metric: metric.to_string(),
            expression: text.to_string(),
            method: aggregation.to_string(),
            kind,
            valid: kind_methods(Some(kind)),
        });
    }
    Ok((aggregation, op, value))
}

/// Splits the leading method (`avg`, `p(95)`) from the rest.
fn split_method(text: &str) -> Result<(&str, &str), String> {
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if name_end == 0 {
        return Err("expected an aggregation method such as `avg` or `p(95)` first".to_string());
    }
    if !text[name_end..].starts_with('(') {
        return Ok(text.split_at(name_end));
    }
    match text[name_end..].find(')') {
        Some(close) => Ok(text.split_at(name_end + close + 1)),
        None => Err(format!(
            "`{}(` is missing its closing `)`",
            &text[..name_end]
        )),
    }
}

fn aggregation(method: &str, kind: Option<MetricKind>) -> Result<Aggregation, String> {
    let aggregation = match method {
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "max" => Aggregation::Max,
        "med" => Aggregation::Med,
        "rate" => Aggregation::Rate,
        "count" => Aggregation::Count,
        "value" => Aggregation::Value,
        _ => match method.strip_prefix("p(").and_then(|m| m.strip_suffix(')')) {
            Some(inner) => Aggregation::Percentile(percentile(inner)?),
            None => {
                let known = kind_methods(kind);
                return Err(format!(
                    "unknown aggregation method `{method}` (expected {known})"
                ));
            }
        },
    };
    Ok(aggregation)
}

fn percentile(inner: &str) -> Result<f64, String> {
    let inner = inner.trim();
    match inner.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ if inner.is_empty() => Err("`p()` needs a percentile between 0 and 100".to_string()),
        _ => Err(format!("`p({inner})` needs a percentile between 0 and 100")),
    }
}

fn operator(text: &str) -> Option<Op> {
    Some(match text {
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "==" | "===" => Op::Eq,
        "!=" => Op::Ne,
        _ => return None,
    })
}

fn kind_methods(kind: Option<MetricKind>) -> &'static str {
    match kind {
        Some(MetricKind::Trend) => "avg, min, max, med or p(N)",
        Some(MetricKind::Rate) => "rate",
        Some(MetricKind::Counter) => "count or rate",
        Some(MetricKind::Gauge) => "value",
        None => "avg, min, max, med, p(N), rate, count or value",
    }
}

fn kind_example(kind: Option<MetricKind>) -> &'static str {
    match kind {
        Some(MetricKind::Trend) | None => "p(95)<500",
        Some(MetricKind::Rate) => "rate<0.01",
        Some(MetricKind::Counter) => "count<100",
        Some(MetricKind::Gauge) => "value<100",
    }
}

fn aggregation_example(aggregation: Aggregation) -> String {
    match aggregation {
        Aggregation::Avg => "avg<200".to_string(),
        Aggregation::Min => "min<100".to_string(),
        Aggregation::Max => "max<1000".to_string(),
        Aggregation::Med => "med<300".to_string(),
        Aggregation::Percentile(p) => format!("p({p})<500"),
        Aggregation::Rate => "rate<0.01".to_string(),
        Aggregation::Count => "count<100".to_string(),
        Aggregation::Value => "value<100".to_string(),
    }
}

const OBJECT_EXAMPLE: &str = r#"{"threshold": "rate<0.01", "abortOnFail": true}"#;

/// Parses the value of the options' `thresholds` key.
pub(super) fn options(value: &Value) -> Result<Vec<Threshold>, ThresholdError> {
    let map = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(map) => map,
        _ => {
            return Err(options_error(
                "thresholds",
                "must be an object from metric to expressions",
                r#"{"http_req_duration": ["p(95)<500"]}"#,
            ));
        }
    };

    let mut thresholds = Vec::new();
    for (key, list) in map {
        let items = match list {
            Value::Array(items) => items.as_slice(),
            Value::String(_) | Value::Object(_) => std::slice::from_ref(list),
            _ => {
                let field = format!("thresholds.{key}");
                return Err(options_error(
                    &field,
                    "must be a list of expressions",
                    r#"["p(95)<500"]"#,
                ));
            }
        };
        for (index, item) in items.iter().enumerate() {
            let field = format!("thresholds.{key}[{index}]");
            thresholds.push(options_item(key, &field, item)?);
        }
    }
    Ok(thresholds)
}

fn options_item(key: &str, field: &str, item: &Value) -> Result<Threshold, ThresholdError> {
    let object = match item {
        Value::String(expression) => return Threshold::parse(key, expression),
        Value::Object(object) => object,
        _ => {
            let reason = "must be an expression or an object with `threshold`";
            return Err(options_error(field, reason, "p(95)<500"));
        }
    };

    if let Some(unknown) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "threshold" | "abortOnFail" | "delayAbortEval"))
    {
        let field = format!("{field}.{unknown}");
        let reason =
            "is not a threshold field (expected `threshold`, `abortOnFail` or `delayAbortEval`)";
        return Err(options_error(&field, reason, OBJECT_EXAMPLE));
    }

    let expression = match object.get("threshold") {
        Some(Value::String(expression)) => expression,
        Some(_) => {
            return Err(options_error(
                &format!("{field}.threshold"),
                "must be a string",
                OBJECT_EXAMPLE,
            ));
        }
        None => {
            return Err(options_error(
                &format!("{field}.threshold"),
                "is missing",
                OBJECT_EXAMPLE,
            ));
        }
    };
    let mut threshold = Threshold::parse(key, expression)?;

    threshold.abort_on_fail = match object.get("abortOnFail") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(abort)) => *abort,
        Some(_) => {
            let field = format!("{field}.abortOnFail");
            return Err(options_error(
                &field,
                "must be `true` or `false`",
                OBJECT_EXAMPLE,
            ));
        }
    };
    threshold.delay_abort_eval = match object.get("delayAbortEval") {
        None | Some(Value::Null) => None,
        Some(value) => Some(delay(value).ok_or_else(|| {
            let field = format!("{field}.delayAbortEval");
            options_error(&field, &format!("`{value}` is not a duration"), r#""10s""#)
        })?),
    };
    Ok(threshold)
}

fn options_error(field: &str, reason: &str, example: &str) -> ThresholdError {
    ThresholdError::Options {
        field: field.to_string(),
        reason: reason.to_string(),
        example: example.to_string(),
    }
}

/// A `delayAbortEval`: a duration string (`10s`, `1m30s`) or a number of
/// milliseconds, as k6 takes it.
fn delay(value: &Value) -> Option<Duration> {
    match value {
        Value::String(text) => duration(text),
        Value::Number(ms) => Duration::try_from_secs_f64(ms.as_f64()? / 1e3).ok(),
        _ => None,
    }
}

/// Parses Go-style durations (`500ms`, `10s`, `1m30s`, `1.5h`, `2d`); a
/// bare number is milliseconds.
pub(crate) fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(ms / 1e3).ok();
    }

    let mut seconds = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];

        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3_600.0,
            "d" => 86_400.0,
            _ => return None,
        };
        seconds += number * unit;
        rest = &rest[unit_end..];
    }
    if text.is_empty() {
        return None;
    }
    Duration::try_from_secs_f64(seconds).ok()
}
