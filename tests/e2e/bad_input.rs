//! Bad input of every kind: a one-line reason and the right exit code.

#[path = "../fixtures/mod.rs"]
pub(crate) mod fixtures;

use std::net::TcpListener;

use loadwit_shop::{Route, ShopConfig};

use crate::support::{Shop, TestResult, guest, loadwit, number, read_json, run, scratch};

/// Runs `loadwit run FILE` and returns the process outcome.
fn run_file(path: &std::path::Path, extra: &[&str]) -> crate::support::Run {
    run(loadwit().arg("run").arg(path).args(extra))
}

/// The one line on stderr that starts with `error:`.
fn error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "expected one error line:\n{stderr}");
    lines[0]
}

#[test]
fn missing_file_exits_107() {
    let result = run_file("does/not/exist.wasm".as_ref(), &[]);
    assert_eq!(result.code, 107, "{result}");
    assert!(
        error_line(&result.stderr).contains("cannot read `does/not/exist.wasm`"),
        "{result}"
    );
}

#[test]
fn non_wasm_file_exits_107() {
    let path = fixtures::write(&scratch("non_wasm"), "notes.wasm", b"hello, world\n");
    let result = run_file(&path, &[]);
    assert_eq!(result.code, 107, "{result}");
    assert!(
        error_line(&result.stderr).contains("is not WebAssembly"),
        "{result}"
    );
}

#[test]
fn core_module_exits_107_with_a_hint() {
    let path = fixtures::write(
        &scratch("core_module"),
        "core.wasm",
        &fixtures::core_module(),
    );
    let result = run_file(&path, &[]);
    assert_eq!(result.code, 107, "{result}");
    let line = error_line(&result.stderr);
    assert!(
        line.contains("core WebAssembly module, not a component"),
        "{line}"
    );
    assert!(line.contains("wasm32-wasip2"), "{line}");
}

#[test]
fn component_of_another_world_exits_107() {
    let path = fixtures::write(
        &scratch("other_world"),
        "greeter.wasm",
        &fixtures::other_world(),
    );
    let result = run_file(&path, &[]);
    assert_eq!(result.code, 107, "{result}");
    let line = error_line(&result.stderr);
    assert!(line.contains("is not a loadwit scenario"), "{line}");
    assert!(line.contains("options, setup, run, teardown"), "{line}");
}

#[test]
fn component_of_another_wit_version_exits_107() {
    let path = fixtures::write(
        &scratch("previous"),
        "previous.wasm",
        &fixtures::previous_version(),
    );
    let result = run_file(&path, &[]);
    assert_eq!(result.code, 107, "{result}");
    let line = error_line(&result.stderr);
    assert!(line.contains("built for loadwit:scenario@0.1.0"), "{line}");
    assert!(line.contains("runs loadwit:scenario@0.2.0"), "{line}");
    assert!(
        line.contains("rebuild it with this loadwit's SDK"),
        "{line}"
    );
}

#[test]
fn invalid_options_json_exits_104() {
    let path = fixtures::write(
        &scratch("bad_options"),
        "bad.wasm",
        &fixtures::trivial("{\"vus\": "),
    );
    let result = run_file(&path, &[]);
    assert_eq!(result.code, 104, "{result}");
    assert!(
        error_line(&result.stderr).contains("options are invalid"),
        "{result}"
    );
}

#[test]
fn invalid_executor_names_its_field_and_exits_104() {
    let options = r#"{"scenarios": {"x": {"executor": "warp-speed"}}}"#;
    let path = fixtures::write(
        &scratch("bad_executor"),
        "bad.wasm",
        &fixtures::trivial(options),
    );
    let result = run_file(&path, &[]);
    assert_eq!(result.code, 104, "{result}");
    assert!(
        error_line(&result.stderr).contains("`scenarios.x.executor`"),
        "{result}"
    );
}

#[test]
fn unparsable_threshold_exits_104() {
    let path = fixtures::write(&scratch("bad_threshold"), "ok.wasm", &fixtures::trivial(""));
    let result = run_file(&path, &["--threshold", "http_req_duration: p(95)<<500"]);
    assert_eq!(result.code, 104, "{result}");
    let line = error_line(&result.stderr);
    assert!(line.contains("p(95)<<500"), "{line}");
    assert!(
        result.stdout.is_empty(),
        "nothing runs after a bad threshold: {result}"
    );
}

#[test]
fn refused_connections_fail_the_threshold_with_a_reason() -> TestResult {
    // A port that was free a moment ago and has nothing listening now.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let dir = scratch("refused");
    let flagship_against_nothing = |flags: &[&std::ffi::OsStr]| {
        run(loadwit()
            .arg("run")
            .arg(guest("shop_stress"))
            .args(["-e", &format!("BASE_URL=http://127.0.0.1:{port}")])
            .args(flags))
    };
    let export = dir.join("summary.json");
    let result = flagship_against_nothing(&[
        "--vus".as_ref(),
        "2".as_ref(),
        "--duration".as_ref(),
        "1s".as_ref(),
        "--summary-export".as_ref(),
        export.as_os_str(),
    ]);
    assert_eq!(result.code, 99, "{result}");
    let line = error_line(&result.stderr);
    assert!(
        line.contains("no request got a response (connection-refused ×"),
        "{line}"
    );

    let json = read_json(&export);
    let requests = number(&json, "/metrics/http_reqs/count");
    assert!(requests > 0.0);
    assert_eq!(number(&json, "/metrics/http_req_failed/value"), 1.0);
    assert!(result.stdout.contains("connection-refused"), "{result}");

    // Without thresholds the run passes, as in k6, and the line warns.
    let config = dir.join("no-thresholds.json");
    std::fs::write(&config, r#"{"thresholds": {}}"#)?;
    let unjudged = flagship_against_nothing(&[
        "--iterations".as_ref(),
        "2".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    assert_eq!(unjudged.code, 0, "{unjudged}");
    assert!(
        unjudged
            .stderr
            .contains("warning: no request got a response (connection-refused ×"),
        "{unjudged}"
    );
    Ok(())
}

#[test]
fn trap_fails_only_its_iteration() -> TestResult {
    let options =
        r#"{"scenarios": {"traps": {"executor": "per-vu-iterations", "vus": 2, "iterations": 6}}}"#;
    let path = fixtures::write(
        &scratch("trap"),
        "trap.wasm",
        &fixtures::trapping_every_other(options),
    );
    let export = scratch("trap_summary").join("summary.json");
    let result = run(loadwit()
        .arg("run")
        .arg(&path)
        .arg("--summary-export")
        .arg(&export)
        .args(["--threshold", "failed_iterations: count<6"])
        .args(["--threshold", "failed_iterations: count<7"]));
    // Scenario errors fail the run only through a threshold, as in k6.
    assert_eq!(result.code, 99, "{result}");
    assert!(
        result.stdout.contains("✗ failed_iterations: count<6"),
        "{result}"
    );
    assert!(
        result.stdout.contains("✓ failed_iterations: count<7"),
        "{result}"
    );

    // Every VU ran all six iterations: the three that trapped did not
    // stop it, because each trap got the VU a fresh instance.
    let json = read_json(&export);
    assert_eq!(number(&json, "/metrics/iterations/count"), 12.0);
    assert_eq!(number(&json, "/failed_iterations/count"), 6.0);
    let messages = json["failed_iterations"]["by_message"]
        .as_object()
        .expect("messages");
    assert_eq!(messages.len(), 1, "{messages:?}");
    let (message, count) = messages.iter().next().expect("one message");
    assert!(message.contains("unreachable"), "{message}");
    assert_eq!(count.as_u64(), Some(6));
    assert!(result.stdout.contains("unreachable"), "{result}");
    Ok(())
}

/// A `setup` that returns an error fails the run with exit 107 and its
/// reason, after the summary of what it sent is written; no iteration
/// and no `teardown` run.
#[test]
fn failing_setup_exits_107_with_its_reason_and_the_summary() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let export = scratch("setup_fails").join("summary.json");
    let result = run(loadwit()
        .arg("run")
        .arg(guest("lifecycle"))
        .args(["--vus", "1", "--iterations", "3"])
        .args(["-e", &format!("BASE_URL={}", shop.url())])
        .args(["-e", "FAIL_IN_SETUP=1"])
        .arg("--summary-export")
        .arg(&export));
    assert_eq!(result.code, 107, "{result}");
    let line = error_line(&result.stderr);
    assert!(
        line.contains("`setup` failed: the target refused the setup"),
        "{line}"
    );
    let json = read_json(&export);
    assert_eq!(number(&json, "/metrics/http_reqs/count"), 1.0);
    let stats = shop.shop.stats();
    assert_eq!(stats.count(Route::Health), 1);
    assert_eq!(stats.count(Route::Categories), 0);
    assert_eq!(stats.count(Route::Me), 0);
    Ok(())
}
