//! Engine behaviour on small WAT guests: no wasm toolchain, no network,
//! fast enough to run on every change.

#[path = "../../../../tests/fixtures/mod.rs"]
mod fixtures;

mod executors;
mod lifecycle;
mod stopping;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use loadwit_engine::{Options, Report, Stop, Test};
use loadwit_metrics::{Builtin, MetricValue};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Writes a fixture to a directory of its own and loads it, uncached.
pub async fn load(name: &str, wasm: &[u8]) -> Test {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("engine")
        .join(name);
    let path = fixtures::write(&dir, "scenario.wasm", wasm);
    match Test::load(&path, None).await {
        Ok(test) => test,
        Err(error) => panic!("fixture `{name}` did not load: {error}"),
    }
}

/// Runs `test` with its own options and no env.
pub async fn run(test: &Test, stop: &Stop) -> Report {
    let plan = test.options().plan().expect("the fixture's options plan");
    test.run(&plan, &BTreeMap::new(), stop)
        .await
        .expect("the run completes")
}

/// Runs `test` with `options` in place of its own.
pub async fn run_with(test: &Test, options: &str) -> Report {
    let plan = Options::from_json(options)
        .and_then(|o| o.plan())
        .expect("options plan");
    test.run(&plan, &BTreeMap::new(), &Stop::default())
        .await
        .expect("the run completes")
}

/// A counter's total, 0 when nothing was counted.
pub fn count(report: &Report, metric: Builtin) -> u64 {
    match report.aggregate.metric(metric) {
        Some(MetricValue::Counter { sum }) => sum as u64,
        None => 0,
        Some(other) => panic!("`{}` is not a counter: {other:?}", metric.name()),
    }
}

/// A gauge's highest reading.
pub fn gauge_max(report: &Report, metric: Builtin) -> f64 {
    match report.aggregate.metric(metric) {
        Some(MetricValue::Gauge { max, .. }) => max,
        other => panic!(
            "`{}` is not a gauge with readings: {other:?}",
            metric.name()
        ),
    }
}

/// Generous bounds for timing on a busy 2-core machine.
pub fn within(actual: Duration, low: Duration, high: Duration) -> bool {
    actual >= low && actual <= high
}
