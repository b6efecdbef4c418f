use std::time::Duration;

use serde_json::json;

use super::parse::duration;
use super::*;
use crate::{HttpTimings, IterationOutcome, Sample, TagSet};

fn parse(metric: &str, expression: &str) -> Threshold {
    match Threshold::parse(metric, expression) {
        Ok(threshold) => threshold,
        Err(error) => panic!("`{expression}` on `{metric}` should parse: {error}"),
    }
}

fn error(metric: &str, expression: &str) -> String {
    match Threshold::parse(metric, expression) {
        Ok(threshold) => panic!("`{expression}` should not parse, got {threshold:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn every_aggregation_parses() {
    let cases = [
        ("http_req_duration", "avg<200", Aggregation::Avg),
        ("http_req_duration", "min<1", Aggregation::Min),
        ("http_req_duration", "max<1000", Aggregation::Max),
        ("http_req_duration", "med<300", Aggregation::Med),
        (
            "http_req_duration",
            "p(95)<500",
            Aggregation::Percentile(95.0),
        ),
        (
            "http_req_duration",
            "p(99.9)<800",
            Aggregation::Percentile(99.9),
        ),
        ("http_req_failed", "rate<0.01", Aggregation::Rate),
        ("checks", "rate>0.99", Aggregation::Rate),
        ("http_reqs", "count>100", Aggregation::Count),
        ("http_reqs", "rate>50", Aggregation::Rate),
        ("vus", "value>=10", Aggregation::Value),
        ("my_custom_metric", "rate<0.5", Aggregation::Rate),
    ];
    for (metric, expression, aggregation) in cases {
        assert_eq!(
            parse(metric, expression).aggregation,
            aggregation,
            "{expression}"
        );
    }
}

#[test]
fn operators_floats_and_spaces_parse() {
    let cases = [
        ("avg<1.5", Op::Lt, 1.5),
        ("avg <= 2", Op::Le, 2.0),
        ("  avg>  3.25 ", Op::Gt, 3.25),
        ("avg>=4", Op::Ge, 4.0),
        ("avg==5", Op::Eq, 5.0),
        ("avg===6", Op::Eq, 6.0),
        ("avg!=7", Op::Ne, 7.0),
        ("p( 90 ) < 1e3", Op::Lt, 1000.0),
    ];
    for (expression, op, value) in cases {
        let threshold = parse("http_req_duration", expression);
        assert_eq!((threshold.op, threshold.value), (op, value), "{expression}");
    }
    assert_eq!(
        parse("http_req_duration", " p(95) < 500 ").source,
        "p(95) < 500"
    );
}

#[test]
fn invalid_expressions_say_what_was_expected() {
    assert_eq!(
        error("http_req_duration", "p(95)<<500"),
        "`p(95)<<500` on `http_req_duration` does not parse: \
         expected an operator after `p(95)`; write it like `p(95)<500`"
    );
    assert_eq!(
        error("http_req_duration", "  "),
        "threshold on `http_req_duration` is empty; write it like `p(95)<500`"
    );
    assert_eq!(
        error("http_req_failed", "rate<"),
        "`rate<` on `http_req_failed` does not parse: \
         expected a number after `<`; write it like `rate<0.01`"
    );
    assert!(error("http_req_duration", "p(95)<500ms").contains("found `500ms`"));
    assert!(error("http_req_duration", "p95<500").contains("unknown aggregation method `p95`"));
    assert!(error("http_req_duration", "p()<500").contains("`p()` needs a percentile"));
    assert!(error("http_req_duration", "p(101)<500").contains("`p(101)` needs a percentile"));
    assert!(error("http_req_duration", "p(95<500").contains("missing its closing `)`"));
    assert!(error("http_req_duration", "avg=>200").contains("expected an operator after `avg`"));
    assert!(error("http_req_duration", "avg 200").contains("expected an operator after `avg`"));
    assert!(error("http_req_duration", "<200").contains("expected an aggregation method"));
    assert!(error("http_req_duration", "avg<inf").contains("found `inf`"));
}

#[test]
fn methods_must_fit_the_metric_kind() {
    assert_eq!(
        error("http_req_duration", "rate<0.01"),
        "`rate<0.01` on `http_req_duration` uses `rate`, which trend metrics do not have; \
         use avg, min, max, med or p(N)"
    );
    assert!(error("http_req_failed", "p(95)<1").contains("rate metrics do not have; use rate"));
    assert!(error("http_reqs", "avg<1").contains("use count or rate"));
    assert!(error("vus", "count<1").contains("use value"));
}

#[test]
fn metric_keys_carry_typed_filters() {
    let threshold = parse("http_req_duration{ name:me , method:GET }", "p(95)<500");
    assert_eq!(threshold.metric, "http_req_duration");
    let filter = [
        ("name".to_string(), "me".to_string()),
        ("method".into(), "GET".into()),
    ];
    assert_eq!(threshold.filter, filter);
    assert_eq!(
        threshold.metric_key(),
        "http_req_duration{name:me,method:GET}"
    );

    let braces = parse("http_req_duration{name:/users/{id}}", "avg<1");
    assert_eq!(braces.filter[0].1, "/users/{id}");

    for key in [
        "",
        "{name:me}",
        "http_req_duration{name}",
        "http_req_duration{name:me",
        "a-b",
    ] {
        assert!(
            Threshold::parse(key, "avg<1").is_err(),
            "`{key}` should not parse"
        );
    }
}

#[test]
fn cli_form_splits_outside_the_filter() {
    let split = parse_cli_threshold("http_req_duration: p(95)<500").unwrap();
    assert_eq!(
        split,
        ("http_req_duration".to_string(), "p(95)<500".to_string())
    );
    let split = parse_cli_threshold("http_req_duration{name:me}: avg<200").unwrap();
    assert_eq!(
        split,
        (
            "http_req_duration{name:me}".to_string(),
            "avg<200".to_string()
        )
    );

    let mut thresholds = Thresholds::new();
    thresholds
        .push_cli("http_req_duration{name:me}: avg<200")
        .unwrap();
    assert_eq!(
        thresholds.as_slice()[0].filter,
        [("name".to_string(), "me".to_string())]
    );

    for text in [
        "p(95)<500",
        "http_req_duration:",
        ": p(95)<500",
        "http_req_duration{a:b} p(95)<1",
    ] {
        assert!(
            matches!(parse_cli_threshold(text), Err(ThresholdError::Cli { .. })),
            "{text}"
        );
    }
}

#[test]
fn options_form_takes_strings_and_objects() {
    let options = json!({
        "http_req_duration": ["p(95)<500", "avg<200"],
        "http_req_failed": [
            {"threshold": "rate<0.01", "abortOnFail": true, "delayAbortEval": "10s"}
        ],
        "checks{check:me ok}": ["rate==1"],
    });
    let thresholds = Thresholds::from_options(&options).unwrap();
    assert_eq!(thresholds.len(), 4);

    let failed = thresholds
        .iter()
        .find(|t| t.metric == "http_req_failed")
        .unwrap();
    assert!(failed.abort_on_fail);
    assert_eq!(failed.delay_abort_eval, Some(Duration::from_secs(10)));
    let check = thresholds.iter().find(|t| t.metric == "checks").unwrap();
    assert_eq!(check.filter, [("check".to_string(), "me ok".to_string())]);

    assert!(Thresholds::from_options(&json!(null)).unwrap().is_empty());
}

#[test]
fn options_errors_name_the_field() {
    let cases = [
        (json!(["p(95)<500"]), "`thresholds` must be an object"),
        (
            json!({"http_reqs": 5}),
            "`thresholds.http_reqs` must be a list",
        ),
        (
            json!({"http_reqs": [{"abortOnFail": true}]}),
            "`thresholds.http_reqs[0].threshold` is missing",
        ),
        (
            json!({"http_reqs": [{"threshold": "count<1", "abortOnFailure": true}]}),
            "`thresholds.http_reqs[0].abortOnFailure` is not a threshold field",
        ),
        (
            json!({"http_reqs": [{"threshold": "count<1", "delayAbortEval": "soon"}]}),
            "`thresholds.http_reqs[0].delayAbortEval` `\"soon\"` is not a duration",
        ),
        (
            json!({"http_reqs": ["avg<1"]}),
            "which counter metrics do not have",
        ),
    ];
    for (options, expected) in cases {
        let message = Thresholds::from_options(&options).unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn durations_parse_like_go() {
    assert_eq!(duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(duration("1.5h"), Some(Duration::from_secs(5_400)));
    assert_eq!(duration("250"), Some(Duration::from_millis(250)));
    assert_eq!(duration(""), None);
    assert_eq!(duration("10 parsecs"), None);
}

fn crafted() -> Aggregate {
    let mut aggregate = Aggregate::new();
    for i in 1..=100u64 {
        let name = if i % 4 == 0 { "me" } else { "products" };
        let failed = i % 4 == 0;
        let tags = TagSet::new([
            ("name", name),
            ("status", if failed { "404" } else { "200" }),
        ]);
        let timings = HttpTimings {
            duration: Duration::from_millis(i),
            ..HttpTimings::default()
        };
        aggregate.add(&Sample::Http {
            tags,
            timings,
            failed,
            sent: 10,
            received: 100,
        });
        aggregate.add(&Sample::Check {
            tags: TagSet::new([("check", "ok")]),
            passed: !failed,
        });
    }
    aggregate.add(&Sample::Gauge {
        metric: Builtin::Vus,
        tags: TagSet::default(),
        value: 20.0,
    });
    aggregate.add(&Sample::Iteration {
        tags: TagSet::default(),
        duration: Duration::from_secs(1),
        outcome: IterationOutcome::Completed,
    });
    aggregate
}

fn evaluate(lines: &[&str], elapsed: Duration) -> Vec<ThresholdOutcome> {
    let mut thresholds = Thresholds::new();
    for line in lines {
        thresholds.push_cli(line).unwrap();
    }
    thresholds.evaluate(&crafted(), elapsed)
}

#[test]
fn evaluation_passes_and_fails_on_observed_values() {
    let outcomes = evaluate(
        &[
            "http_req_duration: max<=100",
            "http_req_duration: max<100",
            "http_req_duration: avg==50.5",
            "http_req_duration: p(50)<51",
            "http_req_duration{name:me}: min>=4",
            "http_req_duration{expected_response:true}: max<100",
            "http_req_failed: rate<0.25",
            "http_req_failed: rate<=0.25",
            "checks: rate>0.7",
            "http_reqs: count===100",
            "http_reqs: rate>=10",
            "vus: value!=20",
            "iterations: count>0",
        ],
        Duration::from_secs(10),
    );
    let passed: Vec<bool> = outcomes.iter().map(|o| o.passed).collect();
    let expected = [
        true, false, true, true, true, true, false, true, true, true, true, false, true,
    ];
    assert_eq!(passed, expected, "{outcomes:#?}");
    assert_eq!(outcomes[0].observed, Some(100.0));
    assert_eq!(outcomes[10].observed, Some(10.0));
}

#[test]
fn thresholds_without_samples_count_zero_at_the_end_and_wait_while_running() {
    let lines = [
        ("dropped_iterations: count<1", true),
        ("http_req_duration{name:nowhere}: p(95)<1", true),
        ("my_custom_trend: p(95)<1", true),
        ("my_custom_counter: count>10", false),
        ("http_reqs{name:nowhere}: rate>1000", false),
    ];
    let mut thresholds = Thresholds::new();
    for (line, _) in lines {
        thresholds.push_cli(line).unwrap();
    }
    let aggregate = crafted();
    let at_end = thresholds.evaluate(&aggregate, Duration::from_secs(1));
    let running = thresholds.evaluate_live(&aggregate, Duration::from_secs(1));
    for (((line, passes), end), live) in lines.iter().zip(&at_end).zip(&running) {
        assert!(end.observed.is_none(), "{line}: {end:?}");
        assert_eq!(end.passed, *passes, "{line} at the end: {end:?}");
        assert!(live.passed, "{line} while running: {live:?}");
    }
}

#[test]
fn abort_waits_for_its_delay() {
    let options = json!({"http_req_failed": [
        {"threshold": "rate<0.01", "abortOnFail": true, "delayAbortEval": "10s"}
    ]});
    let thresholds = Thresholds::from_options(&options).unwrap();
    let outcome = &thresholds.evaluate(&crafted(), Duration::from_secs(5))[0];
    assert!(!outcome.passed);
    assert!(!outcome.aborts(Duration::from_secs(5)));
    assert!(outcome.aborts(Duration::from_secs(10)));
}

#[test]
fn thresholds_apply_to_custom_metrics_with_filters() {
    use std::sync::Arc;

    use crate::metric::CustomMetric;

    let latency = Arc::new(CustomMetric::new("cart", MetricKind::Trend, true).unwrap());
    let mut aggregate = Aggregate::new();
    for (kind, ms) in [("fast", 10.0), ("slow", 500.0)] {
        aggregate.add(&Sample::Custom {
            metric: latency.clone(),
            tags: TagSet::new([("kind", kind)]),
            value: ms,
        });
    }
    let mut thresholds = Thresholds::new();
    thresholds.push_cli("cart{kind:fast}: p(95)<100").unwrap();
    thresholds.push_cli("cart{kind:slow}: p(95)<100").unwrap();
    let outcomes = thresholds.evaluate(&aggregate, Duration::from_secs(1));
    assert!(outcomes[0].passed);
    assert!(!outcomes[1].passed);
    assert_eq!(outcomes[1].unit(), ValueUnit::Time);
    assert_eq!(outcomes[1].observed_text(), "p(95)=500ms");
}

#[test]
fn near_misses_of_built_in_names_are_refused_with_the_name_meant() {
    for (typo, meant) in [
        ("http_req_durations", "http_req_duration"),
        ("http_req_duraiton", "http_req_duration"),
        ("iteration", "iterations"),
        ("http_req_faild", "http_req_failed"),
        ("group_durations", "group_duration"),
        ("chekcs", "checks"),
        ("check", "checks"),
        ("vu", "vus"),
    ] {
        let message = error(typo, "p(95)<500");
        assert!(
            message.contains(&format!("did you mean `{meant}`?")),
            "{typo}: {message}"
        );
    }
    // Names further from every built-in one are taken as written, as
    // are the built-in names themselves.
    for custom in ["cart_duration", "orders", "errors"] {
        parse(custom, "count<10");
    }
    parse("group_duration", "p(95)<10");
    parse("vus", "value<10");
}

#[test]
fn failed_iterations_count_every_failure_and_take_no_filter() {
    let mut aggregate = Aggregate::new();
    for outcome in [
        IterationOutcome::Failed("boom".into()),
        IterationOutcome::Completed,
        IterationOutcome::Failed("bang".into()),
    ] {
        aggregate.add(&Sample::Iteration {
            tags: TagSet::default(),
            duration: Duration::from_millis(5),
            outcome,
        });
    }
    let mut thresholds = Thresholds::new();
    thresholds.push_cli("failed_iterations: count<2").unwrap();
    thresholds.push_cli("failed_iterations: count<3").unwrap();
    let outcomes = thresholds.evaluate(&aggregate, Duration::from_secs(1));
    assert_eq!(outcomes[0].observed, Some(2.0));
    assert!(!outcomes[0].passed && outcomes[1].passed, "{outcomes:?}");
    let message = error("failed_iterations{scenario:a}", "count<1");
    assert!(message.contains("takes no filter"), "{message}");
    assert!(error("failed_iterations", "p(95)<1").contains("counter"));
}
