use std::time::Duration;

use super::failures::clip;
use super::*;
use crate::sample::HttpTimings;

fn http(name: &str, status: &str, failed: bool, ms: u64) -> Sample {
    let tags = TagSet::new([("name", name), ("method", "GET"), ("status", status)]);
    let timings = HttpTimings {
        duration: Duration::from_millis(ms),
        waiting: Duration::from_millis(ms),
        ..HttpTimings::default()
    };
    Sample::Http {
        tags,
        timings,
        failed,
        sent: 100,
        received: 1_000,
    }
}

fn check(name: &str, passed: bool) -> Sample {
    Sample::Check {
        tags: TagSet::new([("check", name)]),
        passed,
    }
}

fn iteration(outcome: IterationOutcome) -> Sample {
    Sample::Iteration {
        tags: TagSet::new([("scenario", "default")]),
        duration: Duration::from_millis(10),
        outcome,
    }
}

#[test]
fn http_samples_feed_every_http_metric() {
    let mut agg = Aggregate::new();
    agg.add_all(&[http("/a", "200", false, 5), http("/b", "404", true, 7)]);

    let Some(MetricValue::Counter { sum }) = agg.metric(Builtin::HttpReqs) else {
        panic!("http_reqs is a counter");
    };
    assert_eq!(sum, 2.0);
    let failed = agg.metric(Builtin::HttpReqFailed).unwrap();
    assert!(matches!(
        failed,
        MetricValue::Rate {
            passes: 1,
            total: 2
        }
    ));
    let Some(MetricValue::Counter { sum }) = agg.metric(Builtin::DataReceived) else {
        panic!("data_received is a counter");
    };
    assert_eq!(sum, 2_000.0);
    let Some(MetricValue::Trend(trend)) = agg.metric(Builtin::HttpReqDuration) else {
        panic!("http_req_duration is a trend");
    };
    assert_eq!(trend.count(), 2);
    assert_eq!(trend.max(), Duration::from_millis(7));
    assert!(agg.metric(Builtin::Vus).is_none());
}

#[test]
fn filters_select_series_and_expected_response() {
    let mut agg = Aggregate::new();
    agg.add_all(&[http("/a", "200", false, 5), http("/b", "404", true, 7)]);

    let Some(MetricValue::Trend(ok)) =
        agg.metric_matching(Builtin::HttpReqDuration, &[("expected_response", "true")])
    else {
        panic!("expected responses exist");
    };
    assert_eq!(ok.max(), Duration::from_millis(5));
    let b = agg.metric_matching(Builtin::HttpReqs, &[("name", "/b")]);
    assert!(matches!(b, Some(MetricValue::Counter { sum }) if sum == 1.0));
    assert!(
        agg.metric_matching(Builtin::HttpReqs, &[("name", "/c")])
            .is_none()
    );

    let series = agg.series(Builtin::HttpReqs);
    assert_eq!(series.len(), 2);
    let a = series
        .iter()
        .find(|(tags, _)| tags.get("name") == Some("/a"));
    assert_eq!(
        a.and_then(|(tags, _)| tags.get("expected_response")),
        Some("true")
    );
}

#[test]
fn iterations_count_completed_and_failed_but_not_interrupted() {
    let mut agg = Aggregate::new();
    agg.add_all(&[
        iteration(IterationOutcome::Completed),
        iteration(IterationOutcome::Failed("boom".into())),
        iteration(IterationOutcome::Failed("boom".into())),
        iteration(IterationOutcome::Interrupted),
    ]);
    let iterations = agg.metric(Builtin::Iterations);
    assert!(matches!(iterations, Some(MetricValue::Counter { sum }) if sum == 3.0));
    assert_eq!(agg.interrupted_iterations(), 1);
    assert_eq!(agg.failed_iterations().messages(), [("boom", 2)]);
}

#[test]
fn checks_group_by_name_in_first_seen_order() {
    let mut agg = Aggregate::new();
    agg.add_all(&[
        check("zeta", true),
        check("alpha", false),
        check("zeta", false),
    ]);
    let checks = agg.checks();
    assert_eq!(checks[0].name, "zeta");
    assert_eq!((checks[0].passes, checks[0].fails), (1, 1));
    assert_eq!(checks[1].name, "alpha");
}

#[test]
fn gauges_keep_last_min_and_max() {
    let mut agg = Aggregate::new();
    for value in [5.0, 20.0, 10.0] {
        agg.add(&Sample::Gauge {
            metric: Builtin::Vus,
            tags: TagSet::default(),
            value,
        });
    }
    let vus = agg.metric(Builtin::Vus);
    assert!(matches!(
        vus,
        Some(MetricValue::Gauge { last, min, max }) if last == 10.0 && min == 5.0 && max == 20.0
    ));
}

#[test]
fn requests_group_by_name_method_and_outcome() {
    let mut agg = Aggregate::new();
    let refused = TagSet::new([
        ("name", "/login"),
        ("method", "POST"),
        ("status", "0"),
        ("error_code", "connection-refused"),
    ]);
    agg.add_all(&[
        http("/a", "200", false, 1),
        http("/a", "200", false, 1),
        Sample::Http {
            tags: refused,
            timings: HttpTimings::default(),
            failed: true,
            sent: 0,
            received: 0,
        },
    ]);
    let rows = agg.requests_by_name();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].outcome, RequestOutcome::Status(200));
    assert_eq!(rows[0].count, 2);
    let error = RequestOutcome::Error("connection-refused".into());
    assert_eq!((rows[1].outcome.clone(), rows[1].failed), (error, 1));
}

#[test]
fn failure_log_is_bounded_but_total_is_exact() {
    let mut log = FailureLog::default();
    for i in 0..(MAX_FAILURE_MESSAGES + 5) {
        log.record(&format!("error {i}"));
    }
    log.record("error 0");
    assert_eq!(log.messages().len(), MAX_FAILURE_MESSAGES);
    assert_eq!(log.messages()[0], ("error 0", 2));
    assert_eq!(log.other(), 5);
    assert_eq!(log.total(), MAX_FAILURE_MESSAGES as u64 + 6);

    let long = "é".repeat(MAX_FAILURE_MESSAGE_LEN);
    assert!(clip(&long).len() <= MAX_FAILURE_MESSAGE_LEN);
}

#[test]
fn merge_sums_counts_and_keeps_the_later_gauge() {
    let vus = |value| Sample::Gauge {
        metric: Builtin::Vus,
        tags: TagSet::default(),
        value,
    };
    let mut a = Aggregate::new();
    a.add_all(&[http("/a", "200", false, 1), check("ok", true), vus(3.0)]);
    let mut b = Aggregate::new();
    b.add_all(&[http("/a", "500", true, 2), check("ok", false), vus(1.0)]);
    b.add(&iteration(IterationOutcome::Failed("x".into())));

    a.merge(&b);
    let failed = a.metric(Builtin::HttpReqFailed);
    assert!(matches!(
        failed,
        Some(MetricValue::Rate {
            passes: 1,
            total: 2
        })
    ));
    assert_eq!((a.checks()[0].passes, a.checks()[0].fails), (1, 1));
    assert!(matches!(a.metric(Builtin::Vus), Some(MetricValue::Gauge { last, .. }) if last == 1.0));
    assert_eq!(a.failed_iterations().total(), 1);
}

fn custom(metric: &Arc<CustomMetric>, kind: &str, value: f64) -> Sample {
    Sample::Custom {
        metric: metric.clone(),
        tags: TagSet::new([("kind", kind)]),
        value,
    }
}

#[test]
fn custom_metrics_aggregate_filter_and_merge_exactly() {
    let orders = Arc::new(CustomMetric::new("orders", MetricKind::Counter, false).unwrap());
    let size = Arc::new(CustomMetric::new("size", MetricKind::Trend, false).unwrap());
    let (mut a, mut b) = (Aggregate::new(), Aggregate::new());
    for value in 1..=10 {
        a.add(&custom(&size, "small", f64::from(value)));
        b.add(&custom(&size, "big", f64::from(value) * 100.0));
    }
    a.add(&custom(&orders, "web", 2.0));
    b.add(&custom(&orders, "app", 3.0));
    a.merge(&b);

    match a.metric_named::<&str, &str>("orders", &[]) {
        Some(MetricValue::Counter { sum }) => assert_eq!(sum, 5.0),
        other => panic!("{other:?}"),
    }
    let Some(MetricValue::Trend(small)) = a.metric_named("size", &[("kind", "small")]) else {
        panic!("no small sizes");
    };
    assert_eq!((small.count(), small.avg_ms()), (10, 5.5));
    let Some(MetricValue::Trend(all)) = a.metric_named::<&str, &str>("size", &[]) else {
        panic!("no sizes");
    };
    assert_eq!(all.max(), Duration::from_secs(1));
    assert_eq!(a.custom_metrics().len(), 2);
    assert_eq!(a.series_of(&Metric::Custom(size)).len(), 2);
}

#[test]
fn a_name_keeps_the_kind_it_was_first_recorded_with() {
    let counter = Arc::new(CustomMetric::new("n", MetricKind::Counter, false).unwrap());
    let gauge = Arc::new(CustomMetric::new("n", MetricKind::Gauge, false).unwrap());
    let mut agg = Aggregate::new();
    agg.add(&custom(&counter, "x", 1.0));
    agg.add(&custom(&gauge, "x", 7.0));
    assert!(matches!(
        agg.metric_named::<&str, &str>("n", &[]),
        Some(MetricValue::Counter { sum }) if sum == 1.0
    ));
}

#[test]
fn concurrent_merge_adds_vu_gauges_and_nothing_else_differs() {
    let gauge = |metric, value| Sample::Gauge {
        metric,
        tags: TagSet::default(),
        value,
    };
    let part = |vus: &[f64], vus_max: f64| {
        let mut a = Aggregate::new();
        for &v in vus {
            a.add(&gauge(Builtin::Vus, v));
        }
        a.add(&gauge(Builtin::VusMax, vus_max));
        a.add(&http("/a", "200", false, 2));
        a
    };
    let parts = [
        part(&[1.0, 3.0, 0.0], 3.0),
        part(&[2.0, 0.0], 2.0),
        part(&[], 0.0),
    ];
    let mut total = Aggregate::new();
    let mut plain = Aggregate::new();
    for p in &parts {
        total.merge_concurrent(p);
        plain.merge(p);
    }
    let value = |a: &Aggregate, metric| match a.metric(metric) {
        Some(MetricValue::Gauge { last, min, max }) => (last, min, max),
        other => panic!("{metric}: {other:?}"),
    };
    assert_eq!(value(&total, Builtin::VusMax), (5.0, 5.0, 5.0));
    assert_eq!(value(&total, Builtin::Vus), (0.0, 0.0, 5.0));
    assert_eq!(
        value(&plain, Builtin::VusMax),
        (0.0, 0.0, 3.0),
        "the later part wins"
    );
    assert!(matches!(
        total.metric(Builtin::HttpReqs),
        Some(MetricValue::Counter { sum }) if sum == 3.0
    ));
}

#[test]
fn taking_vu_readings_leaves_the_rest() {
    let mut agg = Aggregate::new();
    for (metric, value) in [
        (Builtin::Vus, 4.0),
        (Builtin::Vus, 2.0),
        (Builtin::VusMax, 7.0),
    ] {
        agg.add(&Sample::Gauge {
            metric,
            tags: TagSet::default(),
            value,
        });
    }
    agg.add(&http("/a", "200", false, 2));
    let mut readings = agg.take_vu_readings();
    readings.sort_by_key(|(metric, _, _)| metric.name());
    assert_eq!(
        readings,
        vec![
            (Builtin::Vus, TagSet::default(), 2.0),
            (Builtin::VusMax, TagSet::default(), 7.0),
        ]
    );
    assert!(agg.metric(Builtin::Vus).is_none());
    assert!(agg.metric(Builtin::VusMax).is_none());
    assert!(agg.metric(Builtin::HttpReqs).is_some());
    assert!(agg.take_vu_readings().is_empty());
}
