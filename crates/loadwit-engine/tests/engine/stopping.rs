//! Runs end on time even when guests do not cooperate.

use std::time::Duration;

use loadwit_engine::{Stop, StopLevel};
use loadwit_metrics::Builtin;

use crate::{TestResult, count, fixtures, load, run, run_with, within};

/// A guest that never returns and never calls the host is still stopped
/// when its scenario's graceful stop runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_guest_is_interrupted_after_graceful_stop() -> TestResult {
    let test = load("spinning", &fixtures::spinning("")).await;
    let report = run_with(
        &test,
        r#"{"scenarios": {"s": {"executor": "constant-vus", "vus": 2, "duration": "300ms", "gracefulStop": "200ms"}}}"#,
    )
    .await;
    assert_eq!(count(&report, Builtin::Iterations), 0);
    assert_eq!(report.aggregate.interrupted_iterations(), 2);
    assert!(
        within(
            report.elapsed,
            Duration::from_millis(450),
            Duration::from_secs(3)
        ),
        "stopped after {:?}",
        report.elapsed
    );
    Ok(())
}

/// The first stop lets running iterations finish and starts no new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_finishes_running_iterations() -> TestResult {
    let options = r#"{"vus": 4, "duration": "30s"}"#;
    let test = load("graceful", &fixtures::sleeping(options, 0.2)).await;
    let stop = Stop::default();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopper.escalate();
    });

    let report = run(&test, &stop).await;
    assert_eq!(report.stopped, StopLevel::Graceful);
    assert_eq!(report.aggregate.interrupted_iterations(), 0);
    // 4 VUs × 0.5 s / 0.2 s, plus the iterations running at the stop.
    let iterations = count(&report, Builtin::Iterations);
    assert!((8..=16).contains(&iterations), "{iterations} iterations");
    assert!(
        report.elapsed < Duration::from_secs(3),
        "{:?}",
        report.elapsed
    );
    Ok(())
}

/// The second stop interrupts at once, however long the graceful stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_stop_interrupts_at_once() -> TestResult {
    let options = r#"{"scenarios": {"s": {"executor": "constant-vus", "vus": 3, "duration": "1m", "gracefulStop": "1m"}}}"#;
    let test = load("hard", &fixtures::spinning(options)).await;
    let stop = Stop::default();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stopper.escalate();
        tokio::time::sleep(Duration::from_millis(200)).await;
        stopper.escalate();
    });

    let report = run(&test, &stop).await;
    assert_eq!(report.stopped, StopLevel::Hard);
    assert_eq!(report.aggregate.interrupted_iterations(), 3);
    assert!(
        report.elapsed < Duration::from_secs(3),
        "{:?}",
        report.elapsed
    );
    Ok(())
}
