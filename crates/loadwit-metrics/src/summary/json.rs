//! The JSON summary: k6's `--summary-export` layout plus loadwit's keys.

use serde_json::{Map, Value, json};

use super::{MetricRow, Summary};
use crate::aggregate::{MetricValue, RequestOutcome};

pub(super) fn render(summary: &Summary) -> Value {
    let mut json = json!({
        "metrics": metrics(summary),
        "root_group": root_group(summary),
        "thresholds": thresholds(summary),
        "requests_by_name": requests(summary),
        "failed_iterations": failed_iterations(summary),
        "state": {
            "elapsed_ms": summary.info.elapsed.as_nanos() as f64 / 1e6,
            "vus_max": summary.info.vus_max,
            "interrupted_iterations": summary.failures.interrupted,
        },
    });
    if let Some(series) = &summary.time_series {
        json["time_series"] = series.to_json();
    }
    json
}

fn metrics(summary: &Summary) -> Value {
    let mut metrics = Map::new();
    for row in &summary.rows {
        let mut values = metric_values(summary, row);
        if !row.thresholds.is_empty() {
            // k6's export maps each expression to whether it FAILED.
            let failed: Map<String, Value> = row
                .thresholds
                .iter()
                .map(|&i| {
                    let outcome = &summary.outcomes[i];
                    (
                        outcome.threshold.source.clone(),
                        Value::Bool(!outcome.passed),
                    )
                })
                .collect();
            values.insert("thresholds".to_string(), Value::Object(failed));
        }
        metrics.insert(row.key.clone(), Value::Object(values));
    }
    Value::Object(metrics)
}

fn metric_values(summary: &Summary, row: &MetricRow) -> Map<String, Value> {
    let secs = summary.elapsed_secs();
    let value = match &row.value {
        MetricValue::Counter { sum } => {
            let rate = if secs > 0.0 { sum / secs } else { 0.0 };
            json!({"count": number(*sum), "rate": rate})
        }
        MetricValue::Gauge { last, min, max } => {
            json!({"value": number(*last), "min": number(*min), "max": number(*max)})
        }
        MetricValue::Rate { passes, total } => json!({
            "passes": passes,
            "fails": total - passes,
            "value": row.value.pass_rate().unwrap_or(0.0),
        }),
        MetricValue::Trend(trend) => Value::Object(
            summary
                .trend_stats
                .iter()
                .map(|stat| (stat.to_string(), stat.of(trend, row.metric.unit()).json()))
                .collect(),
        ),
    };
    match value {
        Value::Object(map) => map,
        _ => unreachable!("every arm builds an object"),
    }
}

/// Whole numbers as JSON integers, so counts read `76780`, not `76780.0`.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 2f64.powi(53) {
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

/// k6's group tree: each group has `name`, `path`, `groups` and `checks`.
fn root_group(summary: &Summary) -> Value {
    let mut root = group_json("", "");
    for check in &summary.checks {
        let node = group_node(&mut root, &check.group);
        node["checks"][check.name.as_str()] = json!({
            "name": check.name,
            "path": format!("{}::{}", check.group, check.name),
            "passes": check.passes,
            "fails": check.fails,
        });
    }
    root
}

fn group_json(name: &str, path: &str) -> Value {
    json!({"name": name, "path": path, "groups": {}, "checks": {}})
}

/// The node of the group at `path` (`::outer::inner`), created as needed.
fn group_node<'a>(root: &'a mut Value, path: &str) -> &'a mut Value {
    let mut node = root;
    let mut current = String::new();
    for name in path.split("::").filter(|name| !name.is_empty()) {
        current.push_str("::");
        current.push_str(name);
        node = node["groups"]
            .as_object_mut()
            .expect("every group node has a `groups` object")
            .entry(name)
            .or_insert_with(|| group_json(name, &current));
    }
    node
}

fn thresholds(summary: &Summary) -> Value {
    summary
        .outcomes
        .iter()
        .map(|outcome| {
            let threshold = &outcome.threshold;
            json!({
                "metric": threshold.metric_key(),
                "expression": threshold.source,
                "observed": outcome.observed,
                "passed": outcome.passed,
                "abort_on_fail": threshold.abort_on_fail,
            })
        })
        .collect()
}

fn requests(summary: &Summary) -> Value {
    summary
        .requests
        .iter()
        .map(|request| {
            let (status, error_code) = match &request.outcome {
                RequestOutcome::Status(status) => (Some(*status), None),
                RequestOutcome::Error(code) => (None, Some(code.as_str())),
                RequestOutcome::Unknown => (None, None),
            };
            json!({
                "name": request.name,
                "method": request.method,
                "status": status,
                "error_code": error_code,
                "count": request.count,
                "failed": request.failed,
            })
        })
        .collect()
}

fn failed_iterations(summary: &Summary) -> Value {
    let failures = &summary.failures;
    let by_message: Map<String, Value> = failures
        .messages
        .iter()
        .map(|(message, count)| (message.clone(), Value::from(*count)))
        .collect();
    json!({"count": failures.total, "by_message": by_message, "other": failures.other})
}
