//! Claims about the crate as the engine and CLI use it: exact merging,
//! and text and JSON summaries that agree.

use std::error::Error;
use std::time::Duration;

use loadwit_metrics::{
    Aggregate, Builtin, HttpTimings, IterationOutcome, MetricValue, RunInfo, Sample, Summary,
    TagSet, Thresholds, TimeUnit, Trend, TrendStat,
};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn Error>>;

/// A deterministic pseudo-random sequence (Knuth's MMIX LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// Durations from 100 ns to about 2 s, skewed towards the low end like
    /// real latencies.
    fn latency(&mut self) -> Duration {
        let r = self.next();
        let ns = match r % 10 {
            0 => 100 + r % 900,
            1..=7 => 200_000 + r % 30_000_000,
            _ => 30_000_000 + r % 2_000_000_000,
        };
        Duration::from_nanos(ns)
    }
}

fn request(name: &str, latency: Duration, failed: bool) -> Sample {
    Sample::Http {
        tags: TagSet::new([("name", name), ("method", "GET"), ("status", "200")]),
        timings: HttpTimings {
            duration: latency,
            waiting: latency / 2,
            ..HttpTimings::default()
        },
        failed,
        sent: 100,
        received: 1_000,
    }
}

fn trend(aggregate: &Aggregate, metric: Builtin) -> Result<Trend, Box<dyn Error>> {
    match aggregate.metric(metric) {
        Some(MetricValue::Trend(trend)) => Ok(trend),
        other => Err(format!("{metric} should be a trend, got {other:?}").into()),
    }
}

#[test]
fn merged_worker_histograms_match_one_histogram_over_all_values() -> TestResult {
    let mut rng = Lcg(42);
    let mut single = Aggregate::new();
    let mut workers: Vec<Aggregate> = (0..4).map(|_| Aggregate::new()).collect();
    for i in 0..100_000u64 {
        let name = ["/a", "/b", "/c"][(i % 3) as usize];
        let sample = request(name, rng.latency(), i % 17 == 0);
        single.add(&sample);
        workers[(rng.next() % 4) as usize].add(&sample);
    }

    let mut merged = Aggregate::new();
    for worker in &workers {
        merged.merge(worker);
    }

    for metric in [Builtin::HttpReqDuration, Builtin::HttpReqWaiting] {
        let (one, all) = (trend(&single, metric)?, trend(&merged, metric)?);
        assert_eq!(one.count(), 100_000);
        assert_eq!(all.count(), one.count());
        for p in [50.0, 90.0, 95.0, 99.0, 99.9] {
            assert_eq!(all.percentile(p), one.percentile(p), "{metric} p({p})");
        }
        assert_eq!(all.min(), one.min());
        assert_eq!(all.max(), one.max());
        assert!((all.avg_ms() - one.avg_ms()).abs() < 1e-9);
        assert_eq!(all.histogram(), one.histogram());
    }

    let filter = [("name", "/b"), ("expected_response", "true")];
    let one = single.metric_matching(Builtin::HttpReqDuration, &filter);
    let all = merged.metric_matching(Builtin::HttpReqDuration, &filter);
    match (one, all) {
        (Some(MetricValue::Trend(one)), Some(MetricValue::Trend(all))) => {
            assert_eq!(all.percentile(95.0), one.percentile(95.0));
        }
        other => return Err(format!("filtered trends missing: {other:?}").into()),
    }
    assert_eq!(single.requests_by_name(), merged.requests_by_name());
    Ok(())
}

/// The shop scenario of the README: a catalog that works, a `/auth/me`
/// endpoint that always answers 404, and a login that cannot connect.
fn shop_run() -> Result<(Aggregate, Summary), Box<dyn Error>> {
    let mut aggregate = Aggregate::new();
    let scenario = ("scenario", "default");
    let products = TagSet::new([
        scenario,
        ("name", "/api/catalog/products"),
        ("method", "GET"),
        ("status", "200"),
    ]);
    let me = TagSet::new([
        scenario,
        ("name", "/auth/me"),
        ("method", "GET"),
        ("status", "404"),
    ]);
    let login = TagSet::new([
        scenario,
        ("name", "/api/auth/login"),
        ("method", "POST"),
        ("status", "0"),
        ("error_code", "connection-refused"),
    ]);
    let products_ok = TagSet::new([scenario, ("check", "products ok")]);
    let me_ok = TagSet::new([scenario, ("check", "me ok")]);

    for i in 0..3_000u64 {
        let ms = |base: u64| Duration::from_micros(base + (i * 7_919) % 5_000);
        let timings = |d: Duration| HttpTimings {
            duration: d,
            waiting: d,
            ..HttpTimings::default()
        };
        aggregate.add_all(&[
            Sample::Http {
                tags: products.clone(),
                timings: timings(ms(300)),
                failed: false,
                sent: 80,
                received: 4_000,
            },
            Sample::Check {
                tags: products_ok.clone(),
                passed: true,
            },
            Sample::Http {
                tags: me.clone(),
                timings: timings(ms(200)),
                failed: true,
                sent: 60,
                received: 100,
            },
            Sample::Check {
                tags: me_ok.clone(),
                passed: false,
            },
        ]);
        if i % 250 == 0 {
            let d = Duration::from_micros(50);
            aggregate.add(&Sample::Http {
                tags: login.clone(),
                timings: timings(d),
                failed: true,
                sent: 0,
                received: 0,
            });
        }
        let outcome = match i % 1_000 {
            0 => IterationOutcome::Failed("error: login refused".into()),
            1 => IterationOutcome::Interrupted,
            _ => IterationOutcome::Completed,
        };
        let iteration = TagSet::new([scenario]);
        aggregate.add(&Sample::Iteration {
            tags: iteration,
            duration: ms(1_000),
            outcome,
        });
    }
    for value in [1.0, 20.0, 20.0] {
        aggregate.add(&Sample::Gauge {
            metric: Builtin::Vus,
            tags: TagSet::default(),
            value,
        });
        aggregate.add(&Sample::Gauge {
            metric: Builtin::VusMax,
            tags: TagSet::default(),
            value: 20.0,
        });
    }

    let thresholds = Thresholds::from_options(&json!({
        "http_req_duration": ["p(95)<500", "avg<200"],
        "http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": true}],
        "http_req_duration{name:/auth/me}": ["max<1000"],
    }))?;
    let elapsed = Duration::from_secs(10);
    let outcomes = thresholds.evaluate(&aggregate, elapsed);
    let summary = Summary::new(
        &aggregate,
        &outcomes,
        RunInfo {
            elapsed,
            vus_max: 20,
        },
    );
    Ok((aggregate, summary))
}

fn text(summary: &Summary) -> Result<String, Box<dyn Error>> {
    let mut out = Vec::new();
    summary.render_text(&mut out)?;
    Ok(String::from_utf8(out)?)
}

fn line<'a>(text: &'a str, start: &str) -> Result<&'a str, Box<dyn Error>> {
    text.lines()
        .find(|l| l.trim_start_matches([' ', '✓', '✗']).starts_with(start))
        .ok_or_else(|| format!("no line starting with `{start}` in\n{text}").into())
}

#[test]
fn text_summary_keeps_k6_layout() -> TestResult {
    let (_, summary) = shop_run()?;
    let text = text(&summary)?;

    // Every metric line puts its `:` in the same column.
    let metric_lines: Vec<&str> = text.lines().filter(|l| l.contains("...")).collect();
    assert!(metric_lines.len() >= 12, "{text}");
    let colons: Vec<Option<usize>> = metric_lines
        .iter()
        .map(|l| l.find(".: ").map(|byte| l[..byte].chars().count()))
        .collect();
    assert!(colons[0].is_some(), "{text}");
    assert!(colons.windows(2).all(|w| w[0] == w[1]), "{text}");

    assert_eq!(
        line(&text, "checks.")?,
        "     checks.........................: 50.00% ✓ 3,000  ✗ 3,000"
    );
    assert!(
        line(&text, "http_reqs.")?.ends_with(": 6,012  601/s"),
        "{text}"
    );
    assert!(
        line(&text, "data_received.")?.ends_with(": 12 MB  1.2 MB/s"),
        "{text}"
    );
    assert!(
        line(&text, "vus.")?.ends_with(": 20     min=1    max=20"),
        "{text}"
    );
    assert!(
        line(&text, "http_req_failed.")?.starts_with("   ✗ http_req_failed."),
        "{text}"
    );
    assert!(
        line(&text, "http_req_duration.")?.starts_with("   ✓ http_req_duration."),
        "{text}"
    );
    let me = line(&text, "{ name:/auth/me }")?;
    assert!(me.starts_with("   ✓   { name:/auth/me }."), "{text}");
    assert!(
        line(&text, "{ expected_response:true }")?.contains("avg="),
        "{text}"
    );

    // Trend statistics line up in columns across trend rows.
    let duration = line(&text, "http_req_duration.")?;
    let waiting = line(&text, "http_req_waiting.")?;
    let column = |line: &str, stat: &str| line.find(stat).map(|i| line[..i].chars().count());
    assert_eq!(column(duration, "min="), column(waiting, "min="), "{text}");
    assert_eq!(
        column(duration, "p(99)="),
        column(waiting, "p(99)="),
        "{text}"
    );

    let expected_checks = concat!(
        "     ✓ products ok\n",
        "     ✗ me ok\n",
        "      ↳  0% — ✓ 0 / ✗ 3,000\n",
    );
    assert!(text.contains(expected_checks), "{text}");
    Ok(())
}

#[test]
fn what_failed_opens_the_summary() -> TestResult {
    let (_, summary) = shop_run()?;
    let text = text(&summary)?;
    assert!(text.starts_with("     what failed\n"), "{text}");
    for expected in [
        "       ✗ threshold `rate<0.01` on http_req_failed: observed rate=50.09%",
        "       ✗ check `me ok` never passed: 0 of 3,000",
        "       ✗ 3 iterations failed",
        "           3 × error: login refused",
        "       ✗ 3 iterations interrupted",
        "       ✗ 3,012 of 6,012 requests failed (50.09%)",
        "           3,000 × GET /auth/me 404",
        "              12 × POST /api/auth/login connection-refused",
    ] {
        assert!(
            text.contains(&format!("{expected}\n")),
            "missing `{expected}` in\n{text}"
        );
    }
    Ok(())
}

#[test]
fn what_failed_shows_even_when_thresholds_pass() -> TestResult {
    let mut aggregate = Aggregate::new();
    aggregate.add(&Sample::Check {
        tags: TagSet::new([("check", "status 200")]),
        passed: false,
    });
    aggregate.add(&Sample::Check {
        tags: TagSet::new([("check", "status 200")]),
        passed: true,
    });
    let mut thresholds = Thresholds::new();
    thresholds.push_cli("checks: rate>=0.5")?;
    let outcomes = thresholds.evaluate(&aggregate, Duration::from_secs(1));
    let summary = Summary::new(&aggregate, &outcomes, RunInfo::default());

    assert!(summary.thresholds_passed());
    let text = text(&summary)?;
    assert!(
        text.contains("✗ check `status 200` passed 50.00%: 1 of 2"),
        "{text}"
    );
    assert!(
        text.contains("       ✓ checks: rate>=0.5  rate=50.00%"),
        "{text}"
    );
    Ok(())
}

#[test]
fn nothing_failed_means_no_what_failed_block() -> TestResult {
    let mut aggregate = Aggregate::new();
    aggregate.add(&request("/ok", Duration::from_millis(3), false));
    let summary = Summary::new(&aggregate, &[], RunInfo::default());
    assert!(!summary.has_failures());
    let text = text(&summary)?;
    assert!(!text.contains("what failed"), "{text}");
    assert!(
        text.contains("requests by name\n       GET /ok  200 × 1\n"),
        "{text}"
    );
    Ok(())
}

/// The number after `marker` in the data part of a metric line (after
/// the `:` column) or in a whole line without one.
fn count_after(text: &str, marker: &str) -> Result<u64, Box<dyn Error>> {
    let data = text.split_once(".: ").map_or(text, |(_, data)| data);
    let digits: String = data
        .split_once(marker)
        .ok_or_else(|| format!("`{marker}` not in `{text}`"))?
        .1
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    Ok(digits.parse()?)
}

#[test]
fn text_and_json_agree() -> TestResult {
    let (_, summary) = shop_run()?;
    let (text, json) = (text(&summary)?, summary.to_json());
    let metrics = &json["metrics"];

    let reqs = line(&text, "http_reqs.")?;
    assert_eq!(json!(count_after(reqs, "")?), metrics["http_reqs"]["count"]);
    let iterations = line(&text, "iterations.")?;
    assert_eq!(
        json!(count_after(iterations, "")?),
        metrics["iterations"]["count"]
    );

    for (metric, key) in [
        ("checks", "checks."),
        ("http_req_failed", "http_req_failed."),
    ] {
        let line = line(&text, key)?;
        assert_eq!(
            json!(count_after(line, "✓")?),
            metrics[metric]["passes"],
            "{metric}"
        );
        assert_eq!(
            json!(count_after(line, "✗")?),
            metrics[metric]["fails"],
            "{metric}"
        );
    }

    let me = &json["root_group"]["checks"]["me ok"];
    assert_eq!(me["fails"], 3_000);
    assert!(text.contains("✗ 3,000"));

    let by_name = json["requests_by_name"]
        .as_array()
        .ok_or("requests_by_name is a list")?;
    let (_, block) = text
        .split_once("requests by name\n")
        .ok_or("no breakdown")?;
    let rows: Vec<Vec<&str>> = block
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), by_name.len());
    for (row, request) in rows.iter().zip(by_name) {
        let outcome = request["status"].as_u64().map(|s| s.to_string());
        let outcome = outcome.or(request["error_code"].as_str().map(str::to_string));
        assert_eq!(
            row[..3],
            [&request["method"], &request["name"], &json!(outcome)]
                .map(|v| v.as_str().unwrap_or("?"))
        );
        assert_eq!(json!(count_after(row[4], "")?), request["count"]);
    }
    assert_eq!(json["failed_iterations"]["count"], 3);
    assert_eq!(json["state"]["interrupted_iterations"], 3);
    Ok(())
}

#[test]
fn json_follows_k6_summary_export() -> TestResult {
    let (_, summary) = shop_run()?;
    let json = summary.to_json();
    let metrics = &json["metrics"];

    let duration = &metrics["http_req_duration"];
    for stat in ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"] {
        let ms = duration[stat].as_f64().ok_or(format!("{stat} missing"))?;
        assert!(
            (0.05..10.0).contains(&ms),
            "{stat}={ms} should be milliseconds"
        );
    }
    // k6 writes `true` for a threshold that failed.
    assert_eq!(
        duration["thresholds"],
        json!({"p(95)<500": false, "avg<200": false})
    );
    assert_eq!(
        metrics["http_req_failed"]["thresholds"],
        json!({"rate<0.01": true})
    );
    assert_eq!(
        metrics["http_req_duration{name:/auth/me}"]["thresholds"],
        json!({"max<1000": false})
    );
    assert!(metrics["http_req_duration{expected_response:true}"]["avg"].is_f64());

    assert_eq!(metrics["vus"], json!({"value": 20, "min": 1, "max": 20}));
    assert_eq!(metrics["http_reqs"]["count"], 6_012);
    assert_eq!(metrics["http_reqs"]["rate"], 601.2);
    assert_eq!(metrics["data_sent"]["count"], 3_000 * 140);
    let failed = &metrics["http_req_failed"];
    assert_eq!(
        (failed["passes"].as_u64(), failed["fails"].as_u64()),
        (Some(3_012), Some(3_000))
    );
    assert_eq!(
        json["root_group"]["checks"]["products ok"]["path"],
        "::products ok"
    );
    Ok(())
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn json_extras_use_snake_case() -> TestResult {
    let (_, summary) = shop_run()?;
    let json = summary.to_json();
    let mut ours: Vec<&str> = keys(&json);
    ours.extend(keys(&json["state"]));
    ours.extend(keys(&json["failed_iterations"]));
    ours.extend(keys(&json["thresholds"][0]));
    ours.extend(keys(&json["requests_by_name"][0]));
    assert!(ours.len() >= 20, "{ours:?}");
    for key in ours {
        let snake = key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        assert!(snake, "`{key}` is not snake_case");
    }
    assert_eq!(
        keys(&json),
        [
            "failed_iterations",
            "metrics",
            "requests_by_name",
            "root_group",
            "state",
            "thresholds"
        ]
    );
    Ok(())
}

#[test]
fn trend_stats_are_configurable() -> TestResult {
    let (_, summary) = shop_run()?;
    let stats = ["min", "p(99.9)", "count"].map(TrendStat::parse);
    let stats: Option<Vec<_>> = stats.into_iter().collect();
    let summary = summary.with_trend_stats(stats.ok_or("stats parse")?);
    let json = summary.to_json();
    assert_eq!(
        keys(&json["metrics"]["http_req_waiting"]),
        ["count", "min", "p(99.9)"]
    );
    assert_eq!(json["metrics"]["http_req_waiting"]["count"], 6_012);
    let text = text(&summary)?;
    assert!(
        line(&text, "http_req_waiting.")?.contains("count=6,012"),
        "{text}"
    );
    Ok(())
}

#[test]
fn breakdown_opens_with_the_most_failures_then_the_busiest() -> TestResult {
    let mut aggregate = Aggregate::new();
    let ms = Duration::from_millis(2);
    for (name, count, failed) in [("/a", 5, false), ("/b", 2, true), ("/c", 9, false)] {
        for _ in 0..count {
            aggregate.add(&request(name, ms, failed));
        }
    }
    let json = Summary::new(&aggregate, &[], RunInfo::default()).to_json();
    let names: Vec<&str> = json["requests_by_name"]
        .as_array()
        .ok_or("a list")?
        .iter()
        .filter_map(|row| row["name"].as_str())
        .collect();
    assert_eq!(names, ["/b", "/c", "/a"]);
    Ok(())
}

#[test]
fn summary_time_unit_shows_every_duration_in_one_unit() -> TestResult {
    let mut aggregate = Aggregate::new();
    aggregate.add(&request("/a", Duration::from_micros(1_500), false));
    let shown = |unit| -> Result<String, Box<dyn Error>> {
        let summary = Summary::new(&aggregate, &[], RunInfo::default())
            .with_trend_stats(vec![TrendStat::Avg, TrendStat::Max])
            .with_time_unit(unit);
        text(&summary)
    };
    let millis = shown(Some(TimeUnit::Millis))?;
    assert!(millis.contains("avg=1.5ms"), "{millis}");
    assert!(millis.contains("avg=0.75ms"), "{millis}");
    let micros = shown(Some(TimeUnit::Micros))?;
    assert!(micros.contains("avg=1,500µs"), "{micros}");
    assert!(micros.contains("avg=750µs"), "{micros}");
    let own = shown(None)?;
    assert!(
        own.contains("avg=1.5ms") && own.contains("avg=750µs"),
        "{own}"
    );
    Ok(())
}
