//! Distributed runs: segments run as separate processes add up to one
//! run of the whole plan.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use loadwit_shop::ShopConfig;
use serde_json::Value;

use crate::support::{Shop, TestResult, guest, loadwit, number, read_json, run, scratch};

/// Every iteration of the flagship sends exactly this many requests.
const REQUESTS_PER_ITERATION: u64 = 3;

/// Passes on each third of the run below (at most 43 iterations, 129
/// requests), fails on the whole (303 requests).
const PART_ONLY_THRESHOLD: &str = "http_reqs: count<200";

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("options.json");
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
