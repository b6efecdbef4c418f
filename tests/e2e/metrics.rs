//! Custom metrics, tags, groups, live thresholds and the result files,
//! with the metrics suite's scenario, whose totals are known in advance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use loadwit_shop::{Route, RouteLatency, ShopConfig};
use serde_json::Value;

use crate::support::{Run, Shop, TestResult, guest, loadwit, number, read_json, run, scratch};

/// The suite's scenarios: 2 VUs × 5 iterations of `exec`.
fn suite_config(dir: &Path, exec: &str, extra: &str) -> std::io::Result<PathBuf> {
    let path = dir.join("options.json");
    let text = format!(
        r#"{{"scenarios": {{"suite": {{"executor": "per-vu-iterations", "vus": 2,
            "iterations": 5, "exec": "{exec}"}}}}{extra}}}"#
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

/// A shop whose `slow` endpoint (categories) takes 100 ms more.
fn slow_categories_shop() -> Shop {
    let latency = RouteLatency::new(Route::Categories, Duration::from_millis(100));
    Shop::start(ShopConfig {
        latency: vec![latency],
        ..ShopConfig::default()
    })
}

fn run_suite(config: &Path, extra_args: &[&str]) -> Run {
    run(loadwit()
        .arg("run")
        .arg(guest("metrics_suite"))
        .arg("--config")
        .arg(config)
        .args(extra_args))
}

fn assert_close(json: &Value, pointer: &str, expected: f64) {
    let actual = number(json, pointer);
    let tolerance = expected.abs() * 1e-3;
    assert!(
        (actual - expected).abs() <= tolerance,
        "`{pointer}` is {actual}, expected {expected} within 0.1 %"
    );
}

#[test]
fn custom_metrics_report_their_exact_totals() -> TestResult {
    let dir = scratch("custom_metrics_totals");
    let export = dir.join("summary.json");
    let extra = r#", "summaryTrendStats": ["avg", "min", "med", "max", "p(95)", "count"],
        "thresholds": {"items_sold": ["count==30"], "in_stock": ["rate==0.75"],
                       "checks{check:inner ok}": ["rate>0.99"],
                       "basket_size{kind:basket}": ["p(95)<19.1", "max==20"]}"#;
    let config = suite_config(&dir, "default", extra)?;
    let result = run_suite(&config, &["--summary-export", export.to_str().unwrap()]);
    assert_eq!(result.code, 0, "{result}");

    let json = read_json(&export);
    assert_eq!(number(&json, "/metrics/items_sold/count"), 30.0);
    assert_eq!(number(&json, "/metrics/basket_size/count"), 200.0);
    assert_eq!(number(&json, "/metrics/basket_size/avg"), 10.5);
    assert_eq!(number(&json, "/metrics/basket_size/min"), 1.0);
    assert_eq!(number(&json, "/metrics/basket_size/max"), 20.0);
    assert_close(&json, "/metrics/basket_size/med", 10.0);
    assert_close(&json, "/metrics/basket_size/p(95)", 19.0);
    assert_eq!(number(&json, "/metrics/cart_time/avg"), 100.0);
    assert_eq!(number(&json, "/metrics/cart_time/count"), 10.0);
    assert_eq!(number(&json, "/metrics/queue_depth/min"), 10.0);
    assert_eq!(number(&json, "/metrics/queue_depth/max"), 24.0);
    assert_eq!(number(&json, "/metrics/in_stock/passes"), 30.0);
    assert_eq!(number(&json, "/metrics/in_stock/fails"), 10.0);
    assert_eq!(number(&json, "/metrics/in_stock/value"), 0.75);
    assert_eq!(number(&json, "/metrics/group_duration/count"), 20.0);

    let inner = "/root_group/groups/outer/groups/inner";
    assert_eq!(
        number(&json, &format!("{inner}/checks/inner ok/passes")),
        10.0
    );
    assert_eq!(
        json.pointer(&format!("{inner}/path")),
        Some(&"::outer::inner".into())
    );
    assert_eq!(number(&json, "/root_group/checks/root ok/passes"), 10.0);
    let thresholds = json["thresholds"].as_array().expect("thresholds");
    assert_eq!(thresholds.len(), 5);
    assert!(
        thresholds.iter().all(|t| t["passed"] == true),
        "{thresholds:?}"
    );

    // The text summary shows the same numbers and the group tree.
    let text = &result.stdout;
    assert!(text.contains("items_sold"), "{text}");
    assert!(text.contains("in_stock"), "{text}");
    assert!(text.contains("75.00%"), "{text}");
    assert!(text.contains("cart_time"), "{text}");
    assert!(text.contains("avg=100ms"), "{text}");
    assert!(text.contains("█ outer"), "{text}");
    assert!(text.contains("  █ inner"), "{text}");
    Ok(())
}

#[test]
fn tag_filtered_thresholds_pass_on_the_fast_endpoint_and_fail_on_the_slow() -> TestResult {
    let shop = slow_categories_shop();
    let dir = scratch("tag_filtered_thresholds");
    let export = dir.join("summary.json");
    let extra = r#", "thresholds": {"http_req_duration{name:slow}": ["p(95)<80", "min>=100"]}"#;
    let config = suite_config(&dir, "http", extra)?;
    let result = run_suite(
        &config,
        &[
            "--summary-export",
            export.to_str().unwrap(),
            "-e",
            &format!("BASE_URL={}", shop.url()),
            "--threshold",
            "http_req_duration{name:fast}: p(95)<80",
            "--threshold",
            "http_reqs{name:fast,status:200}: count==10",
        ],
    );
    assert_eq!(result.code, 99, "{result}");

    let json = read_json(&export);
    let passed: BTreeMap<String, bool> = json["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .map(|t| {
            let key = format!(
                "{}: {}",
                t["metric"].as_str().unwrap(),
                t["expression"].as_str().unwrap()
            );
            (key, t["passed"].as_bool().unwrap())
        })
        .collect();
    let expected = [
        ("http_req_duration{name:slow}: p(95)<80", false),
        ("http_req_duration{name:slow}: min>=100", true),
        ("http_req_duration{name:fast}: p(95)<80", true),
        ("http_reqs{name:fast,status:200}: count==10", true),
    ];
    for (key, want) in expected {
        assert_eq!(passed.get(key), Some(&want), "{key} in {passed:?}");
    }
    assert!(
        number(&json, "/metrics/http_req_duration{name:slow}/p(95)") >= 100.0,
        "{json:#}"
    );
    assert!(result.stdout.contains("what failed"), "{}", result.stdout);
    Ok(())
}

#[test]
fn abort_on_fail_stops_a_sixty_second_test_within_two_seconds() -> TestResult {
    let shop = slow_categories_shop();
    let dir = scratch("abort_on_fail");
    let export = dir.join("summary.json");
    let samples = dir.join("samples.ndjson");
    let config = dir.join("options.json");
    std::fs::write(
        &config,
        r#"{"scenarios": {"long": {"executor": "constant-vus", "vus": 2, "duration": "60s",
              "exec": "http"}},
            "thresholds": {"http_req_duration{name:slow}": [
              {"threshold": "p(95)<50", "abortOnFail": true}]}}"#,
    )?;
    let started = Instant::now();
    let result = run_suite(
        &config,
        &[
            "--summary-export",
            export.to_str().unwrap(),
            "--out",
            &format!("json={}", samples.display()),
            "-e",
            &format!("BASE_URL={}", shop.url()),
        ],
    );
    let wall = started.elapsed();
    assert_eq!(result.code, 99, "{result}");
    assert!(wall < Duration::from_secs(20), "the run took {wall:?}");

    // Breached from the first request; evaluated after 1 s; stopped
    // within 2 s of that.
    let json = read_json(&export);
    let elapsed_ms = number(&json, "/state/elapsed_ms");
    assert!(elapsed_ms < 3_000.0, "the test ran {elapsed_ms} ms");
    assert_eq!(json["thresholds"][0]["passed"], false);
    assert!(result.stderr.contains("abortOnFail"), "{result}");

    // Outputs are complete: every request of the summary is in the file.
    let counts = ndjson_counts(&samples)?;
    assert_eq!(
        counts.get("http_reqs"),
        Some(&number(&json, "/metrics/http_reqs/count"))
    );
    Ok(())
}

#[test]
fn delay_abort_eval_holds_the_abort_back() -> TestResult {
    let shop = slow_categories_shop();
    let dir = scratch("delay_abort_eval");
    let export = dir.join("summary.json");
    let config = dir.join("options.json");
    std::fs::write(
        &config,
        r#"{"scenarios": {"long": {"executor": "constant-vus", "vus": 2, "duration": "60s",
              "exec": "http"}},
            "thresholds": {"http_req_duration{name:slow}": [
              {"threshold": "p(95)<50", "abortOnFail": true, "delayAbortEval": "3s"}]}}"#,
    )?;
    let result = run_suite(
        &config,
        &[
            "--summary-export",
            export.to_str().unwrap(),
            "-e",
            &format!("BASE_URL={}", shop.url()),
        ],
    );
    assert_eq!(result.code, 99, "{result}");
    let elapsed_ms = number(&read_json(&export), "/state/elapsed_ms");
    assert!(
        (2_500.0..5_500.0).contains(&elapsed_ms),
        "the test ran {elapsed_ms} ms"
    );
    Ok(())
}

#[test]
fn scenario_abort_ends_the_test_with_exit_108() -> TestResult {
    let dir = scratch("scenario_abort");
    let export = dir.join("summary.json");
    let config = suite_config(&dir, "abort", "")?;
    let result = run_suite(&config, &["--summary-export", export.to_str().unwrap()]);
    assert_eq!(result.code, 108, "{result}");
    assert!(
        result.stderr.contains("aborted by the scenario: enough"),
        "{result}"
    );
    let json = read_json(&export);
    assert!(
        number(&json, "/metrics/iterations/count") < 10.0,
        "{json:#}"
    );
    Ok(())
}

#[test]
fn abort_in_setup_ends_the_test_with_exit_108_and_no_iterations() -> TestResult {
    let dir = scratch("setup_abort");
    let export = dir.join("summary.json");
    let config = suite_config(&dir, "default", "")?;
    let result = run_suite(
        &config,
        &[
            "--env",
            "ABORT_IN_SETUP=1",
            "--summary-export",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(result.code, 108, "{result}");
    assert!(
        result
            .stderr
            .contains("aborted by the scenario: the target is not ready"),
        "{result}"
    );
    let json = read_json(&export);
    assert!(json.pointer("/metrics/iterations").is_none(), "{json:#}");
    Ok(())
}

/// Per metric, the sum of point values in an NDJSON file.
fn ndjson_counts(path: &Path) -> Result<BTreeMap<String, f64>, Box<dyn std::error::Error>> {
    let (sums, _) = ndjson_points(path)?;
    Ok(sums)
}

/// Per metric, the sum of point values and the number of points.
type Tallies = (BTreeMap<String, f64>, BTreeMap<String, f64>);

fn ndjson_points(path: &Path) -> Result<Tallies, Box<dyn std::error::Error>> {
    let (mut sums, mut points) = (BTreeMap::new(), BTreeMap::new());
    for line in std::fs::read_to_string(path)?.lines() {
        let line: Value = serde_json::from_str(line)?;
        if line["type"] != "Point" {
            continue;
        }
        let metric = line["metric"].as_str().expect("a metric").to_string();
        assert!(
            line["data"]["time"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        *sums.entry(metric.clone()).or_default() += line["data"]["value"].as_f64().unwrap();
        *points.entry(metric).or_default() += 1.0;
    }
    Ok((sums, points))
}

fn csv_points(path: &Path) -> Result<Tallies, Box<dyn std::error::Error>> {
    let (mut sums, mut points) = (BTreeMap::new(), BTreeMap::new());
    let mut reader = csv::Reader::from_path(path)?;
    assert_eq!(&reader.headers()?[0], "metric_name");
    for record in reader.records() {
        let record = record?;
        let metric = record[0].to_string();
        assert!(record[1].parse::<u64>()? > 1_600_000_000, "{record:?}");
        *sums.entry(metric.clone()).or_default() += record[2].parse::<f64>()?;
        *points.entry(metric).or_default() += 1.0;
    }
    Ok((sums, points))
}

/// What the summary says each metric's point count is: counters' sums,
/// rates' samples, trends' counts.
fn check_tallies(json: &Value, (sums, points): &Tallies, format: &str) {
    for counter in ["http_reqs", "iterations", "items_sold", "data_received"] {
        let expected = number(json, &format!("/metrics/{counter}/count"));
        assert_eq!(sums.get(counter), Some(&expected), "{format} {counter}");
    }
    for rate in ["checks", "http_req_failed", "in_stock"] {
        let expected = number(json, &format!("/metrics/{rate}/passes"))
            + number(json, &format!("/metrics/{rate}/fails"));
        assert_eq!(points.get(rate), Some(&expected), "{format} {rate}");
    }
    for trend in [
        "http_req_duration",
        "iteration_duration",
        "basket_size",
        "group_duration",
    ] {
        let expected = number(json, &format!("/metrics/{trend}/count"));
        assert_eq!(points.get(trend), Some(&expected), "{format} {trend}");
    }
}

#[test]
fn sample_files_and_junit_agree_with_the_summary() -> TestResult {
    let shop = slow_categories_shop();
    let dir = scratch("sample_files");
    let export = dir.join("summary.json");
    let ndjson = dir.join("samples.ndjson");
    let csv_file = dir.join("samples.csv");
    let junit = dir.join("junit.xml");
    let config = dir.join("options.json");
    std::fs::write(
        &config,
        r#"{"scenarios": {
              "suite": {"executor": "per-vu-iterations", "vus": 2, "iterations": 5},
              "http": {"executor": "shared-iterations", "vus": 2, "iterations": 6, "exec": "http"}},
            "summaryTrendStats": ["avg", "p(95)", "count"],
            "thresholds": {"http_req_duration{name:slow}": ["p(95)<50"],
                           "items_sold": ["count>0"]}}"#,
    )?;
    let result = run_suite(
        &config,
        &[
            "--summary-export",
            export.to_str().unwrap(),
            "--out",
            &format!("json={}", ndjson.display()),
            "--out",
            &format!("csv={}", csv_file.display()),
            "--junit",
            junit.to_str().unwrap(),
            "-e",
            &format!("BASE_URL={}", shop.url()),
        ],
    );
    assert_eq!(result.code, 99, "{result}");
    let json = read_json(&export);
    assert_eq!(number(&json, "/metrics/http_reqs/count"), 12.0);

    check_tallies(&json, &ndjson_points(&ndjson)?, "ndjson");
    check_tallies(&json, &csv_points(&csv_file)?, "csv");

    let xml = std::fs::read_to_string(&junit)?;
    let doc = roxmltree::Document::parse(&xml)?;
    let suite = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no `{name}` suite in {xml}"))
    };
    let cases = |name: &str| -> Vec<(String, bool)> {
        suite(name)
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|n| {
                let failed = n.children().any(|c| c.has_tag_name("failure"));
                (n.attribute("name").unwrap_or_default().to_string(), failed)
            })
            .collect()
    };
    let thresholds = cases("thresholds");
    assert_eq!(
        thresholds,
        [
            ("http_req_duration{name:slow}: p(95)<50".to_string(), true),
            ("items_sold: count>0".to_string(), false),
        ]
    );
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|n| n.attribute("message"))
        .unwrap_or_default();
    assert!(failure.starts_with("observed p(95)="), "{failure}");
    let checks = cases("checks");
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(
        checks.contains(&("::outer::inner::inner ok".to_string(), false)),
        "{checks:?}"
    );
    assert!(
        checks.contains(&("::root ok".to_string(), false)),
        "{checks:?}"
    );

    // The time series covers the run, bucket by bucket.
    let buckets = json["time_series"]["buckets"]
        .as_array()
        .expect("a time series");
    assert!(!buckets.is_empty());
    let reqs: f64 = buckets
        .iter()
        .flat_map(|b| b["series"].as_array().unwrap())
        .filter(|s| s["metric"] == "http_reqs")
        .map(|s| s["count"].as_f64().unwrap())
        .sum();
    assert_eq!(reqs, 12.0);
    Ok(())
}

#[test]
fn run_tags_and_system_tags_shape_every_sample() -> TestResult {
    let dir = scratch("run_and_system_tags");
    let ndjson = dir.join("samples.ndjson");
    let extra = r#", "tags": {"team": "shop"}, "systemTags": ["scenario", "group"]"#;
    let config = suite_config(&dir, "default", extra)?;
    let result = run_suite(
        &config,
        &[
            "--tag",
            "env=ci",
            "--out",
            &format!("json={}", ndjson.display()),
        ],
    );
    assert_eq!(result.code, 0, "{result}");

    let mut checks = 0;
    for line in std::fs::read_to_string(&ndjson)?.lines() {
        let line: Value = serde_json::from_str(line)?;
        if line["type"] != "Point" || line["metric"] == "vus" || line["metric"] == "vus_max" {
            continue;
        }
        let tags = &line["data"]["tags"];
        assert_eq!(tags["env"], "ci", "{line}");
        assert_eq!(tags["team"], "shop", "{line}");
        assert_eq!(tags["scenario"], "suite", "{line}");
        if line["metric"] == "checks" {
            checks += 1;
            assert!(tags.get("check").is_none(), "`check` is not kept: {line}");
        }
    }
    assert_eq!(checks, 20);
    Ok(())
}

#[test]
fn progress_lines_without_a_terminal_carry_no_escape_codes() -> TestResult {
    let dir = scratch("plain_progress");
    let config = dir.join("options.json");
    std::fs::write(
        &config,
        r#"{"scenarios": {"steady": {"executor": "constant-vus", "vus": 1, "duration": "11s",
              "exec": "pace"}}}"#,
    )?;
    let result = run_suite(&config, &[]);
    assert_eq!(result.code, 0, "{result}");
    let lines: Vec<&str> = result
        .stdout
        .lines()
        .filter(|line| line.starts_with("running steady: "))
        .collect();
    assert!(
        lines.len() >= 2,
        "expected a line at 10 s and one at the end:\n{result}"
    );
    assert!(lines[0].contains("1 VUs"), "{}", lines[0]);
    assert!(lines[0].contains(" iterations"), "{}", lines[0]);
    assert!(
        !result.stdout.contains('\u{1b}'),
        "escape codes in {result}"
    );

    let quiet = run_suite(&config_with(&dir, "pace")?, &["--quiet"]);
    assert_eq!(quiet.code, 0, "{quiet}");
    assert!(!quiet.stdout.contains("running "), "{quiet}");
    Ok(())
}

fn config_with(dir: &Path, exec: &str) -> std::io::Result<PathBuf> {
    suite_config(dir, exec, "")
}

/// Peak resident memory of a process, from `/proc`, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Five minutes of 20 VUs hammering the shop with every sample streamed
/// to NDJSON: the peak at the end must be close to the peak after one
/// minute. Run with `cargo test --release -p loadwit-cli --test e2e --
/// --ignored memory_stays_bounded --nocapture`.
#[test]
#[ignore = "runs for five minutes"]
fn memory_stays_bounded_over_five_minutes() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("memory_bounded");
    let config = dir.join("options.json");
    std::fs::write(
        &config,
        r#"{"scenarios": {"soak": {"executor": "constant-vus", "vus": 20, "duration": "5m",
              "exec": "http"}}}"#,
    )?;
    let mut child = loadwit()
        .arg("run")
        .arg(guest("metrics_suite"))
        .arg("--config")
        .arg(&config)
        .args(["--out", "json=/dev/null", "--quiet"])
        .args(["-e", &format!("BASE_URL={}", shop.url())])
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let pid = child.id();
    let started = Instant::now();
    let (mut at_one_minute, mut last) = (None, 0);
    while child.try_wait()?.is_none() {
        std::thread::sleep(Duration::from_secs(1));
        last = peak_rss_kib(pid).unwrap_or(last);
        if at_one_minute.is_none() && started.elapsed() >= Duration::from_secs(60) {
            at_one_minute = Some(last);
        }
    }
    let at_one_minute = at_one_minute.expect("the run lasted a minute");
    println!("peak RSS: {at_one_minute} KiB after 1 min, {last} KiB after 5 min");
    assert!(
        last < at_one_minute * 3 / 2,
        "{at_one_minute} KiB → {last} KiB"
    );
    Ok(())
}

/// The `url` tag of every HTTP sample in `ndjson`, `None` where absent.
fn url_tags(ndjson: &Path) -> Result<Vec<Option<String>>, Box<dyn std::error::Error>> {
    let mut urls = Vec::new();
    for line in std::fs::read_to_string(ndjson)?.lines() {
        let line: Value = serde_json::from_str(line)?;
        if line["type"] == "Point" && line["metric"] == "http_reqs" {
            let url = line["data"]["tags"].get("url").and_then(Value::as_str);
            urls.push(url.map(str::to_owned));
        }
    }
    Ok(urls)
}

#[test]
fn the_url_tag_is_kept_only_when_system_tags_ask_for_it() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("url_tag");
    let base = format!("BASE_URL={}", shop.url());
    let by_default = dir.join("default.ndjson");
    let config = suite_config(&dir, "http", "")?;
    let out = format!("json={}", by_default.display());
    let result = run_suite(&config, &["-e", &base, "--out", &out]);
    assert_eq!(result.code, 0, "{result}");
    let urls = url_tags(&by_default)?;
    assert_eq!(urls.len(), 20);
    assert!(urls.iter().all(Option::is_none), "{urls:?}");

    let asked = dir.join("asked.ndjson");
    let config = suite_config(&dir, "http", r#", "systemTags": ["name", "url"]"#)?;
    let out = format!("json={}", asked.display());
    let result = run_suite(&config, &["-e", &base, "--out", &out]);
    assert_eq!(result.code, 0, "{result}");
    let mut urls: Vec<String> = url_tags(&asked)?.into_iter().flatten().collect();
    assert_eq!(urls.len(), 20);
    urls.sort();
    urls.dedup();
    let expected = [
        format!("{}/api/catalog/categories", shop.url()),
        format!("{}/health", shop.url()),
    ];
    assert_eq!(urls, expected);
    Ok(())
}
