//! Distributed runs: segments run as separate processes add up to one
//! run of the whole plan, and `loadwit merge` combines their results
//! exactly. `coordinated` runs them live, under `loadwit coordinate`.

mod coordinated;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hdrhistogram::Histogram;
use loadwit_shop::ShopConfig;
use serde_json::Value;

use crate::support::{Shop, TestResult, guest, loadwit, number, read_json, root, run, scratch};

/// Every iteration of the flagship sends exactly this many requests.
const REQUESTS_PER_ITERATION: u64 = 3;

/// Passes on each third of the run below (at most 43 iterations, 129
/// requests), fails on the whole (303 requests).
const PART_ONLY_THRESHOLD: &str = "http_reqs: count<200";

/// The percentiles compared between the merge and the samples; `min`
/// and `max` are exact and compared exactly.
const STATS: [(&str, f64); 5] = [
    ("med", 50.0),
    ("p(90)", 90.0),
    ("p(95)", 95.0),
    ("p(99)", 99.0),
    ("p(99.9)", 99.9),
];

/// The options file of the flagship runs, written once per test before
/// any process starts: rewriting it while another process reads it would
/// hand that process an empty file.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("options.json");
    if path.exists() {
        return path;
    }
    let options = serde_json::json!({
        "summaryTrendStats": ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "p(99.9)"],
    });
    std::fs::write(&path, options.to_string()).expect("the options file is written");
    path
}

/// `loadwit run` of the flagship with 101 iterations over 7 VUs, no think
/// time, plus `extra`.
fn flagship(shop: &Shop, dir: &Path, extra: &[&str]) -> Command {
    let mut command = loadwit();
    command
        .arg("run")
        .arg(guest("shop_stress"))
        .args(["--vus", "7", "--iterations", "101", "--quiet"])
        .arg("--config")
        .arg(config(dir))
        .args(["--threshold", PART_ONLY_THRESHOLD])
        .args(["-e", &format!("BASE_URL={}", shop.url())])
        .args(["-e", "THINK_MIN=0", "-e", "THINK_MAX=0"])
        .args(extra);
    command
}

fn spawn(command: &mut Command) -> Child {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadwit starts")
}

fn count(json: &Value, metric: &str) -> u64 {
    number(json, &format!("/metrics/{metric}/count")) as u64
}

/// A milliseconds value of a trend in the summary, by statistic.
fn stat(json: &Value, metric: &str, stat: &str) -> f64 {
    number(json, &format!("/metrics/{metric}/{stat}"))
}

/// Runs the three thirds of the flagship plan as three processes at
/// once, each with `extra(i)` added, and returns each part's summary
/// export once all have exited 0 (each passes its own thresholds).
fn run_thirds(shop: &Shop, dir: &Path, extra: impl Fn(u64) -> Vec<String>) -> Vec<Value> {
    let parts: Vec<_> = (1..=3)
        .map(|i| {
            let summary = dir.join(format!("part{i}.json"));
            let segment = format!("{i}/3");
            let mut command = flagship(shop, dir, &["--segment", &segment]);
            command.arg("--summary-export").arg(&summary).args(extra(i));
            (spawn(&mut command), summary)
        })
        .collect();
    parts
        .into_iter()
        .map(|(child, summary)| {
            let output = child.wait_with_output().expect("the part runs");
            assert_eq!(
                output.status.code(),
                Some(0),
                "each part passes its thresholds: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            read_json(&summary)
        })
        .collect()
}

#[test]
fn three_segment_processes_run_exactly_the_whole_plan() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("segments_add_up");

    // The whole plan in one process.
    let whole = dir.join("whole.json");
    let single = run(flagship(&shop, &dir, &[])
        .arg("--summary-export")
        .arg(&whole));
    assert_eq!(single.code, 99, "303 requests break `count<200`: {single}");
    let whole = read_json(&whole);
    assert_eq!(count(&whole, "iterations"), 101);
    assert_eq!(count(&whole, "http_reqs"), 101 * REQUESTS_PER_ITERATION);

    // The same plan as three processes at once, one segment each.
    let parts = run_thirds(&shop, &dir, |_| Vec::new());
    let iterations: Vec<u64> = parts.iter().map(|p| count(p, "iterations")).collect();
    // 7 VUs dealt 3, 2, 2; the 101 iterations follow the VUs.
    assert_eq!(iterations, [43, 29, 29]);
    assert_eq!(iterations.iter().sum::<u64>(), 101);
    let requests: u64 = parts.iter().map(|p| count(p, "http_reqs")).sum();
    assert_eq!(requests, 101 * REQUESTS_PER_ITERATION);
    let vus_max: Vec<f64> = parts.iter().map(|p| number(p, "/state/vus_max")).collect();
    assert_eq!(vus_max, [3.0, 2.0, 2.0]);
    for part in &parts {
        assert_eq!(number(part, "/metrics/checks/fails"), 0.0);
    }
    assert_eq!(
        shop.shop.stats().total(),
        2 * 101 * REQUESTS_PER_ITERATION,
        "the shop saw the single run and the three parts, nothing more"
    );
    Ok(())
}

/// Two open-loop scenarios: 100 iterations at a constant rate, and a
/// ramp whose count only the schedule knows.
const ARRIVALS: &str = r#"{"thresholds": {}, "scenarios": {
    "constant": {"executor": "constant-arrival-rate", "rate": 50, "timeUnit": "1s",
                 "duration": "2s", "preAllocatedVUs": 4, "maxVUs": 10},
    "ramp": {"executor": "ramping-arrival-rate", "startRate": 5, "timeUnit": "1s",
             "preAllocatedVUs": 4, "maxVUs": 10,
             "stages": [{"duration": "1s", "target": 40}, {"duration": "1s", "target": 0}]}}}"#;

/// Started plus dropped iterations: what the schedule planned.
fn planned(json: &Value) -> u64 {
    let dropped = json
        .pointer("/metrics/dropped_iterations/count")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    count(json, "iterations") + dropped as u64
}

#[test]
fn arrival_rate_segments_start_the_whole_schedule_between_them() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("segments_arrivals");
    let config = dir.join("arrivals.json");
    std::fs::write(&config, ARRIVALS)?;
    let command = |summary: &Path, segment: Option<String>| {
        let mut command = loadwit();
        command
            .arg("run")
            .arg(guest("shop_stress"))
            .args(["--quiet", "--config"])
            .arg(&config)
            .args(["-e", &format!("BASE_URL={}", shop.url())])
            .args(["-e", "THINK_MIN=0", "-e", "THINK_MAX=0"])
            .arg("--summary-export")
            .arg(summary);
        if let Some(segment) = segment {
            command.args(["--segment", &segment]);
        }
        command
    };

    let whole_path = dir.join("whole.json");
    let whole = run(&mut command(&whole_path, None));
    assert_eq!(whole.code, 0, "{whole}");
    let whole = planned(&read_json(&whole_path));
    assert!(
        whole > 100,
        "the constant scenario alone plans 100: {whole}"
    );

    let parts: Vec<_> = (1..=3)
        .map(|i| {
            let summary = dir.join(format!("part{i}.json"));
            let child = spawn(&mut command(&summary, Some(format!("{i}/3"))));
            (child, summary)
        })
        .collect();
    let mut shares = Vec::new();
    for (child, summary) in parts {
        let output = child.wait_with_output()?;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        shares.push(planned(&read_json(&summary)));
    }
    assert_eq!(shares.iter().sum::<u64>(), whole, "{shares:?}");
    let (low, high) = (shares.iter().min(), shares.iter().max());
    assert!(
        high.zip(low).is_some_and(|(h, l)| h - l <= 2),
        "dealt evenly: {shares:?}"
    );
    Ok(())
}

#[test]
fn merged_segments_equal_one_run_of_every_sample() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("segments_merge");
    let result = |i: u64| dir.join(format!("part{i}.result"));
    let ndjson = |i: u64| dir.join(format!("part{i}.ndjson"));
    run_thirds(&shop, &dir, |i| {
        vec![
            "--out".into(),
            format!("result={}", result(i).display()),
            "--out".into(),
            format!("json={}", ndjson(i).display()),
        ]
    });

    // The merge: the counts of the whole plan, the threshold judged on the
    // whole, percentiles of every sample.
    let merged_path = dir.join("merged.json");
    let junit = dir.join("junit.xml");
    let merged = run(loadwit()
        .arg("merge")
        .args((1..=3).map(result))
        .arg("--summary-export")
        .arg(&merged_path)
        .arg("--junit")
        .arg(&junit));
    assert_eq!(
        merged.code, 99,
        "`count<200` fails on the whole only: {merged}"
    );
    assert!(merged.stdout.contains("http_reqs"), "{merged}");
    assert!(!merged.stderr.contains("warning"), "{merged}");
    let json = read_json(&merged_path);
    assert_eq!(count(&json, "iterations"), 101);
    assert_eq!(count(&json, "http_reqs"), 101 * REQUESTS_PER_ITERATION);
    assert_eq!(
        number(&json, "/metrics/checks/passes"),
        (101 * REQUESTS_PER_ITERATION) as f64
    );
    assert_eq!(
        number(&json, "/metrics/vus_max/value"),
        7.0,
        "the parts' VUs add up"
    );
    assert_eq!(number(&json, "/state/vus_max"), 7.0);
    let threshold = &json["metrics"]["http_reqs"]["thresholds"]["count<200"];
    assert_eq!(
        threshold,
        &Value::Bool(true),
        "k6 marks failed thresholds true"
    );
    let passing = &json["metrics"]["http_req_failed"]["thresholds"]["rate<0.01"];
    assert_eq!(
        passing,
        &Value::Bool(false),
        "the component's own thresholds pass"
    );
    let junit = std::fs::read_to_string(&junit)?;
    assert!(junit.contains("count&lt;200"), "{junit}");

    let samples = durations_from_ndjson(
        &(1..=3).map(ndjson).collect::<Vec<_>>(),
        "http_req_duration",
    );
    assert_eq!(samples.len() as u64, 101 * REQUESTS_PER_ITERATION);
    for (name, percentile) in STATS {
        let expected = hdr_stat(&samples, percentile);
        let merged = stat(&json, "http_req_duration", name);
        assert_eq!(merged, expected, "http_req_duration {name}");
    }
    let min = *samples.iter().min().expect("samples") as f64 / 1e6;
    assert_eq!(stat(&json, "http_req_duration", "min"), min);
    let max = *samples.iter().max().expect("samples") as f64 / 1e6;
    assert_eq!(stat(&json, "http_req_duration", "max"), max);
    Ok(())
}

#[test]
fn merge_refuses_results_that_do_not_belong_together() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("merge_refuses");
    let part = |segment: &str, wasm: PathBuf, file: &str| {
        let path = dir.join(file);
        let result = run(loadwit()
            .arg("run")
            .arg(wasm)
            .args(["--iterations", "4", "--quiet", "--segment", segment])
            .args(["-e", &format!("BASE_URL={}", shop.url())])
            .args(["-e", &format!("URL={}/health", shop.url())])
            .args(["-e", "THINK_MIN=0", "-e", "THINK_MAX=0"])
            .arg("--out")
            .arg(format!("result={}", path.display())));
        assert_eq!(result.code, 0, "{result}");
        path
    };
    let first = part("1/2", guest("shop_stress"), "first.result");
    let other = part("2/2", guest("hammer"), "other.result");

    let twice = run(loadwit().arg("merge").arg(&first).arg(&first));
    assert_eq!(twice.code, 104, "{twice}");
    assert!(twice.stderr.contains("overlap"), "{twice}");

    let mixed = run(loadwit().arg("merge").arg(&first).arg(&other));
    assert_eq!(mixed.code, 104, "{mixed}");
    assert!(mixed.stderr.contains("another component"), "{mixed}");

    // A missing part fails the merge, after its summary is written; with
    // `--partial` the part is judged alone.
    let half_summary = dir.join("half.json");
    let half = run(loadwit()
        .arg("merge")
        .arg(&first)
        .arg("--summary-export")
        .arg(&half_summary));
    assert_eq!(half.code, 104, "{half}");
    assert!(half.stderr.contains("cover 1/2 of the test"), "{half}");
    assert!(half.stderr.contains("--partial"), "{half}");
    assert!(half_summary.exists(), "the summary is written all the same");
    let partial = run(loadwit().arg("merge").arg(&first).arg("--partial"));
    assert_eq!(partial.code, 0, "{partial}");
    assert!(
        partial.stderr.contains("cover 1/2 of the test"),
        "{partial}"
    );

    let not_result = dir.join("not.result");
    std::fs::write(&not_result, "hello\n")?;
    let bad = run(loadwit().arg("merge").arg(&not_result));
    assert_eq!(bad.code, 104, "{bad}");
    assert!(bad.stderr.contains("not a loadwit result file"), "{bad}");
    Ok(())
}

#[test]
fn segment_flags_show_the_share_and_refuse_bad_values() -> TestResult {
    let wasm = guest("shop_stress");
    let dry = |args: &[&str]| {
        run(loadwit()
            .arg("run")
            .arg(&wasm)
            .args(["--vus", "7", "--iterations", "101", "--dry-run"])
            .args(args))
    };
    let second = dry(&["--segment", "2/3"]);
    assert_eq!(second.code, 0, "{second}");
    assert!(
        second
            .stdout
            .contains("segment 1/3:2/3 of the sequence 0,1/3,2/3,1"),
        "{second}"
    );
    assert!(
        second.stdout.contains("29 iterations shared by 2 VUs"),
        "{second}"
    );

    let k6_form = dry(&["--execution-segment", "0:1/3"]);
    assert!(
        k6_form.stdout.contains("43 iterations shared by 3 VUs"),
        "{k6_form}"
    );

    let from_env = run(loadwit()
        .arg("run")
        .arg(&wasm)
        .args(["--vus", "7", "--iterations", "101", "--dry-run"])
        .env("LOADWIT_SEGMENT", "3/3"));
    assert!(from_env.stdout.contains("segment 2/3:1"), "{from_env}");

    for (flag, value) in [
        ("--segment", "4/3"),
        ("--segment", "half"),
        ("--execution-segment", "2/3:1/3"),
        ("--execution-segment-sequence", "0,1/2,1/4,1"),
    ] {
        let bad = dry(&[flag, value]);
        assert_eq!(bad.code, 104, "{flag} {value}: {bad}");
        assert!(
            bad.stderr.contains(&format!("`{flag}` is invalid")),
            "{bad}"
        );
    }
    let outside = dry(&[
        "--execution-segment",
        "0:1/2",
        "--execution-segment-sequence",
        "0,1/3,1",
    ]);
    assert_eq!(outside.code, 104, "{outside}");
    assert!(outside.stderr.contains("not one of the parts"), "{outside}");
    Ok(())
}

/// The Kubernetes manifests render with kubectl's kustomize around a real
/// component and pass the Kubernetes schemas strictly; the checks
/// themselves live in `scripts/check-kubernetes`, which needs kubectl and
/// the `kubernetes-validate` package (`scripts/test` installs it).
#[test]
fn kubernetes_manifests_render_and_match_the_schemas() -> TestResult {
    let output = Command::new(root().join("scripts/check-kubernetes"))
        .arg(guest("shop_stress"))
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    let passed: u32 = last
        .strip_prefix("kubernetes: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 80, "every layout was checked: {stdout}");
    Ok(())
}

/// Every value of `metric` in NDJSON sample files, in nanoseconds.
fn durations_from_ndjson(files: &[PathBuf], metric: &str) -> Vec<u64> {
    let mut values = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("the NDJSON output was written");
        for line in text.lines() {
            let point: Value = serde_json::from_str(line).expect("each line is JSON");
            if point["type"] == "Point" && point["metric"] == metric {
                let ms = point["data"]["value"].as_f64().expect("a value");
                values.push((ms * 1e6).round() as u64);
            }
        }
    }
    values
}

/// A statistic of `samples` as loadwit reports it, computed here from
/// scratch: an HDR histogram of microseconds at 3 significant figures,
/// the bucket's upper edge kept within the exact extremes, in
/// milliseconds.
fn hdr_stat(samples: &[u64], percentile: f64) -> f64 {
    let mut histogram = Histogram::<u64>::new(3).expect("3 significant figures");
    for &ns in samples {
        let us = ((ns + 500) / 1_000).max(1);
        histogram
            .record(us)
            .expect("auto-resizing histograms take any value");
    }
    let min = *samples.iter().min().expect("samples");
    let max = *samples.iter().max().expect("samples");
    let us = histogram.value_at_quantile(percentile / 100.0);
    let ns = (us * 1_000).clamp(min, max);
    ns as f64 / 1e6
}
