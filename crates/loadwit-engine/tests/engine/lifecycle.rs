//! Iteration counts, many VUs, traps and the component's own options.

use std::time::Duration;

use loadwit_metrics::Builtin;

use crate::{TestResult, count, fixtures, gauge_max, load, run, run_with, within};

#[tokio::test]
async fn component_options_drive_the_plan() -> TestResult {
    let options =
        r#"{"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 3, "iterations": 4}}}"#;
    let test = load("own_options", &fixtures::trivial(options)).await;
    let report = run(&test, &Default::default()).await;
    assert_eq!(count(&report, Builtin::Iterations), 12);
    assert_eq!(report.vus_max, 3);
    Ok(())
}

#[tokio::test]
async fn shared_iterations_are_exact() -> TestResult {
    let test = load("shared", &fixtures::trivial("")).await;
    let report = run_with(&test, r#"{"vus": 10, "iterations": 1000}"#).await;
    assert_eq!(count(&report, Builtin::Iterations), 1000);
    Ok(())
}

/// 300 VUs each sleeping 300 ms finish together, not one after another:
/// a sleeping VU holds no thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sleeping_vus_run_concurrently() -> TestResult {
    let test = load("many_vus", &fixtures::sleeping("", 0.3)).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 300, "iterations": 1}}}"#,
    )
    .await;
    assert_eq!(count(&report, Builtin::Iterations), 300);
    assert!(
        within(
            report.elapsed,
            Duration::from_millis(290),
            Duration::from_secs(5)
        ),
        "300 × 300 ms sleeps took {:?}",
        report.elapsed
    );
    Ok(())
}

#[tokio::test]
async fn a_trap_fails_one_iteration_and_the_vu_goes_on() -> TestResult {
    let test = load("traps", &fixtures::trapping_every_other("")).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 3, "iterations": 10}}}"#,
    )
    .await;
    assert_eq!(count(&report, Builtin::Iterations), 30);
    let failures = report.aggregate.failed_iterations();
    assert_eq!(failures.total(), 15);
    let messages = failures.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].0.contains("unreachable"), "{messages:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constant_vus_reports_its_vus_and_duration() -> TestResult {
    let test = load("constant", &fixtures::sleeping("", 0.05)).await;
    let report = run_with(&test, r#"{"vus": 5, "duration": "1200ms"}"#).await;
    assert_eq!(gauge_max(&report, Builtin::Vus), 5.0);
    assert_eq!(gauge_max(&report, Builtin::VusMax), 5.0);
    // 5 VUs × 1.2 s / 50 ms is 120 iterations at most.
    let iterations = count(&report, Builtin::Iterations);
    assert!((60..=125).contains(&iterations), "{iterations} iterations");
    assert!(
        within(
            report.elapsed,
            Duration::from_millis(1200),
            Duration::from_secs(3)
        ),
        "{:?}",
        report.elapsed
    );
    Ok(())
}
