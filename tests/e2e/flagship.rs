//! The flagship scenario against the demo shop.

use std::collections::BTreeMap;

use loadwit_metrics::format::format_count;
use loadwit_shop::{Route, ShopConfig};
use serde_json::Value;

use crate::support::{
    Shop, TestResult, guest, loadwit, number, read_json, run, run_against_shop, scratch,
};

/// Every iteration of the flagship sends exactly this many requests.
const REQUESTS_PER_ITERATION: u64 = 3;

/// Per-name request counts from the JSON summary's breakdown.
fn counts_by_name(json: &Value) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for row in json["requests_by_name"]
        .as_array()
        .expect("a breakdown list")
    {
        let name = row["name"].as_str().expect("a name").to_owned();
        *counts.entry(name).or_default() += row["count"].as_u64().expect("a count");
    }
    counts
}

#[test]
fn flagship_passes_against_the_demo_shop() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("flagship_passes");
    let export = dir.join("summary.json");

    let result = run(loadwit()
        .arg("run")
        .arg(guest("shop_stress"))
        .args(["--vus", "20", "--duration", "5s"])
        .arg("--summary-export")
        .arg(&export)
        .args(["-e", &format!("BASE_URL={}", shop.url())]));
    assert_eq!(result.code, 0, "{result}");

    let json = read_json(&export);
    let requests = number(&json, "/metrics/http_reqs/count") as u64;
    let by_name = counts_by_name(&json);
    assert!(
        requests > 100,
        "only {requests} requests in 5 s with 20 VUs"
    );
    assert_eq!(
        requests,
        by_name.values().sum::<u64>(),
        "breakdown {by_name:?}"
    );
    assert_eq!(
        requests,
        shop.shop.stats().total(),
        "the shop saw a different count"
    );

    let iterations = number(&json, "/metrics/iterations/count") as u64;
    assert_eq!(requests, iterations * REQUESTS_PER_ITERATION);
    assert_eq!(number(&json, "/metrics/checks/fails"), 0.0, "{result}");
    assert_eq!(number(&json, "/metrics/checks/passes") as u64, requests);
    assert_eq!(number(&json, "/metrics/http_req_failed/value"), 0.0);

    // The text and the JSON tell the same story.
    for (name, count) in &by_name {
        let line = result
            .stdout
            .lines()
            .find(|line| line.contains(name.as_str()) && line.contains(" 200 "))
            .unwrap_or_else(|| panic!("no breakdown line for `{name}`:\n{}", result.stdout));
        assert!(
            line.contains(&format_count(*count)),
            "`{line}` does not show {count}"
        );
    }
    assert!(
        result.stdout.contains(&format_count(requests)),
        "{}",
        result.stdout
    );
    assert!(result.stdout.contains("✓ products ok"), "{}", result.stdout);
    Ok(())
}

#[test]
fn wrong_me_path_fails_check_and_threshold() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("wrong_me_path");
    let export = dir.join("summary.json");

    let result = run(loadwit()
        .arg("run")
        .arg(guest("shop_stress"))
        .args(["--vus", "10", "--duration", "3s"])
        .arg("--summary-export")
        .arg(&export)
        .args(["-e", &format!("BASE_URL={}", shop.url())])
        .args(["-e", "ME_PATH=/auth/me", "-e", "AUTH_SHARE=0.5"]));
    assert_eq!(result.code, 99, "{result}");

    let json = read_json(&export);
    let me = &json["root_group"]["checks"]["me ok"];
    let fails = me["fails"].as_u64().expect("`me ok` fails");
    assert!(fails > 0, "{me}");
    assert_eq!(me["passes"].as_u64(), Some(0), "{me}");

    let wrong = json["requests_by_name"]
        .as_array()
        .expect("a breakdown")
        .iter()
        .find(|row| row["name"] == "/auth/me")
        .expect("the wrong path has its own row");
    assert_eq!(wrong["status"], 404);
    assert_eq!(wrong["count"].as_u64(), Some(fails));
    assert_eq!(shop.shop.stats().count(Route::Me), 0);

    let failed_threshold = json["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .find(|t| t["metric"] == "http_req_failed")
        .expect("the flagship's http_req_failed threshold");
    assert_eq!(failed_threshold["passed"], false);

    assert!(result.stdout.contains("GET  /auth/me"), "{}", result.stdout);
    assert!(result.stdout.contains("me ok"), "{}", result.stdout);
    Ok(())
}

#[test]
fn per_vu_iterations_runs_exactly_vus_times_iterations() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("per_vu_iterations");
    let export = dir.join("summary.json");
    let config = dir.join("options.json");
    std::fs::write(
        &config,
        r#"{"scenarios": {"exact": {"executor": "per-vu-iterations", "vus": 7, "iterations": 13}}}"#,
    )?;

    let result = run_against_shop(&guest("shop_stress"), &shop, &config, &export, &[]);
    assert_eq!(result.code, 0, "{result}");

    let json = read_json(&export);
    assert_eq!(number(&json, "/metrics/iterations/count"), 91.0);
    assert_eq!(
        number(&json, "/metrics/http_reqs/count"),
        (91 * REQUESTS_PER_ITERATION) as f64
    );
    assert_eq!(shop.shop.stats().total(), 91 * REQUESTS_PER_ITERATION);
    assert!(
        result.stdout.contains("per-vu-iterations"),
        "{}",
        result.stdout
    );
    Ok(())
}
