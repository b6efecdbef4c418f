//! Every executor keeps its promise: exact iteration counts, VU curves
//! that follow the plan, arrival rates that hold, and drops counted.

use std::time::Duration;

use loadwit_metrics::{Builtin, MetricValue};

use crate::{TestResult, count, fixtures, load, run_with};

/// An iteration counter over the series of one scenario.
fn iterations_of(report: &loadwit_engine::Report, scenario: &str) -> u64 {
    match report
        .aggregate
        .metric_matching(Builtin::Iterations, &[("scenario", scenario)])
    {
        Some(MetricValue::Counter { sum }) => sum as u64,
        _ => 0,
    }
}

fn trend(
    report: &loadwit_engine::Report,
    metric: Builtin,
    scenario: &str,
) -> loadwit_metrics::Trend {
    match report
        .aggregate
        .metric_matching(metric, &[("scenario", scenario)])
    {
        Some(MetricValue::Trend(trend)) => trend,
        other => panic!("no `{metric}` trend for `{scenario}`: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_iterations_run_exactly_their_count() -> TestResult {
    let test = load("shared_exact", &fixtures::trivial("")).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"s": {"executor": "shared-iterations", "vus": 10, "iterations": 1000}}}"#,
    )
    .await;
    assert_eq!(count(&report, Builtin::Iterations), 1000);
    assert_eq!(report.vus_max, 10);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_vu_iterations_run_exactly_their_count() -> TestResult {
    let test = load("per_vu_exact", &fixtures::sleeping("", 0.001)).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 7, "iterations": 13}}}"#,
    )
    .await;
    // No VU may run more than 13, so 91 in all means 13 each.
    assert_eq!(count(&report, Builtin::Iterations), 7 * 13);
    Ok(())
}

/// The planned VU count of 0→20 over 4 s, 20 for 2 s, 20→0 over 4 s.
fn planned_ramp(at: f64) -> f64 {
    match at {
        t if t < 4.0 => (20.0 * t / 4.0).floor(),
        t if t < 6.0 => 20.0,
        t if t < 10.0 => (20.0 - 20.0 * (t - 6.0) / 4.0).ceil(),
        _ => 0.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramping_vus_follow_the_planned_curve() -> TestResult {
    let test = load("ramping_curve", &fixtures::sleeping("", 0.05)).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"ramp": {"executor": "ramping-vus", "startVUs": 0,
            "gracefulRampDown": "100ms", "stages": [
              {"duration": "4s", "target": 20},
              {"duration": "2s", "target": 20},
              {"duration": "4s", "target": 0}]}}}"#,
    )
    .await;
    assert!(report.vus_timeline.len() >= 9, "{:?}", report.vus_timeline);
    for &(at, vus) in &report.vus_timeline {
        // A reading taken a little early or late on a busy machine is
        // judged against the plan around its instant.
        let at = at.as_secs_f64();
        let (low, high) = [at - 0.2, at + 0.2]
            .map(|t| planned_ramp(t.max(0.0)))
            .into_iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let slack = 1.0_f64.max(high * 0.1);
        let vus = vus as f64;
        assert!(
            vus >= low - slack && vus <= high + slack,
            "at {at:.2}s: {vus} VUs, planned {low}..{high}; timeline {:?}",
            report.vus_timeline
        );
    }
    assert_eq!(report.vus_max, 20);
    assert_eq!(report.aggregate.interrupted_iterations(), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramping_down_interrupts_after_graceful_ramp_down() -> TestResult {
    let test = load("ramp_down_cut", &fixtures::sleeping("", 5.0)).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"ramp": {"executor": "ramping-vus", "startVUs": 4,
            "gracefulRampDown": "200ms", "gracefulStop": "200ms",
            "stages": [{"duration": "400ms", "target": 0}, {"duration": "600ms", "target": 0}]}}}"#,
    )
    .await;
    // Each VU is ramped out by 400 ms and cut 200 ms later.
    assert_eq!(report.aggregate.interrupted_iterations(), 4);
    assert!(
        report.elapsed < Duration::from_secs(3),
        "{:?}",
        report.elapsed
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constant_arrival_rate_starts_every_scheduled_iteration() -> TestResult {
    let test = load("arrival_exact", &fixtures::sleeping("", 0.01)).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 100,
            "duration": "3s", "preAllocatedVUs": 5, "maxVUs": 20}}}"#,
    )
    .await;
    assert_eq!(count(&report, Builtin::Iterations), 300);
    assert_eq!(count(&report, Builtin::DroppedIterations), 0);
    assert!(report.vus_max <= 20, "{}", report.vus_max);
    let lateness = trend(&report, Builtin::IterationLateness, "open");
    assert_eq!(lateness.count(), 300);
    assert!(
        lateness.percentile(50.0) < Duration::from_millis(20),
        "median lateness {:?}",
        lateness.percentile(50.0)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_rate_without_free_vus_drops_iterations() -> TestResult {
    let test = load("arrival_drops", &fixtures::sleeping("", 0.5)).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 50,
            "duration": "2s", "preAllocatedVUs": 1, "maxVUs": 5}}}"#,
    )
    .await;
    // 5 VUs × 2 iterations/s × 2 s start; the other 80 of 100 are dropped.
    let done = count(&report, Builtin::Iterations);
    let dropped = count(&report, Builtin::DroppedIterations);
    assert_eq!(done + dropped, 100, "{done} done, {dropped} dropped");
    assert!((18..=22).contains(&done), "{done} iterations");
    assert_eq!(
        report.vus_max, 5,
        "VUs beyond preAllocatedVUs made on demand"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_iterations_record_their_lateness() -> TestResult {
    let test = load("arrival_queue", &fixtures::sleeping("", 0.2)).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 20,
            "duration": "2s", "preAllocatedVUs": 2, "maxLateness": "1s"}}}"#,
    )
    .await;
    // 2 VUs serve 10/s of the 20/s planned; the rest wait, up to 1 s.
    let lateness = trend(&report, Builtin::IterationLateness, "open");
    assert!(
        lateness.percentile(90.0) > Duration::from_millis(300),
        "p(90) lateness {:?}",
        lateness.percentile(90.0)
    );
    assert!(
        lateness.max() <= Duration::from_millis(1100),
        "{:?}",
        lateness.max()
    );
    let done = count(&report, Builtin::Iterations);
    let dropped = count(&report, Builtin::DroppedIterations);
    assert_eq!(done + dropped, 40, "{done} done, {dropped} dropped");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramping_arrival_rate_follows_its_stages() -> TestResult {
    let test = load("ramping_arrival", &fixtures::trivial("")).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"open": {"executor": "ramping-arrival-rate", "startRate": 0,
            "timeUnit": "1s", "preAllocatedVUs": 2, "maxVUs": 10,
            "stages": [{"duration": "2s", "target": 100}, {"duration": "1s", "target": 0}]}}}"#,
    )
    .await;
    // 0→100/s over 2 s is 100 iterations; 100→0/s over 1 s is 50.
    assert_eq!(count(&report, Builtin::Iterations), 150);
    assert_eq!(count(&report, Builtin::DroppedIterations), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_start_on_time_and_call_their_own_exec() -> TestResult {
    let test = load(
        "two_scenarios",
        &fixtures::sleeping_by_exec("", 4, 0.02, 0.1),
    )
    .await;
    let report = run_with(
        &test,
        r#"{"scenarios": {
            "early": {"executor": "constant-vus", "vus": 2, "duration": "1s", "exec": "fast"},
            "late": {"executor": "per-vu-iterations", "vus": 1, "iterations": 3,
                     "startTime": "1500ms", "exec": "slower"}}}"#,
    )
    .await;
    assert_eq!(iterations_of(&report, "late"), 3);
    assert!(iterations_of(&report, "early") > 20);
    let fast = trend(&report, Builtin::IterationDuration, "early");
    let slow = trend(&report, Builtin::IterationDuration, "late");
    assert!(fast.max() < Duration::from_millis(90), "{:?}", fast.max());
    assert!(slow.min() >= Duration::from_millis(100), "{:?}", slow.min());
    // The late scenario waited for its start time.
    assert!(
        report.elapsed >= Duration::from_millis(1800),
        "{:?}",
        report.elapsed
    );
    Ok(())
}
