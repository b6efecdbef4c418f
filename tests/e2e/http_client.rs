//! The HTTP client against the test server: cookies, redirects, timeouts,
//! TLS and HTTP/2, batches, timings, large and odd bodies, errors and the
//! URL-cardinality guard. Each test runs the `http_suite` component with
//! one `CASE` and reads its checks and metrics from the JSON summary.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::http_server::HttpServer;
use crate::support::{Run, guest, loadwit, number, read_json, run, scratch};

/// Runs the suite's `case` against `base` with `args`, an options file
/// holding `options` when given, and returns the process and summary.
fn suite(test: &str, case: &str, base: &str, args: &[&str], options: Option<&str>) -> (Run, Value) {
    let dir = scratch(test);
    let export = dir.join("summary.json");
    let mut command = loadwit();
    command
        .arg("run")
        .arg(guest("http_suite"))
        .arg("--summary-export")
        .arg(&export)
        .args([
            "-e",
            &format!("CASE={case}"),
            "-e",
            &format!("BASE_URL={base}"),
        ])
        .args(args);
    if let Some(options) = options {
        let file = dir.join("options.json");
        std::fs::write(&file, options).expect("an options file");
        command.arg("--config").arg(file);
    }
    let result = run(&mut command);
    let json = read_json(&export);
    (result, json)
}

/// Asserts every check ran and none failed.
fn all_checks_pass(json: &Value, result: &Run) {
    let checks = json["root_group"]["checks"]
        .as_object()
        .unwrap_or_else(|| panic!("no checks in the summary\n{result}"));
    assert!(!checks.is_empty(), "{result}");
    for (name, check) in checks {
        assert_eq!(check["fails"], 0, "check `{name}` failed\n{result}");
        assert!(
            check["passes"].as_u64() > Some(0),
            "check `{name}`\n{result}"
        );
    }
}

/// Request counts from the breakdown for `name`, by status or error code.
fn rows<'a>(json: &'a Value, name: &str) -> Vec<&'a Value> {
    json["requests_by_name"]
        .as_array()
        .expect("a breakdown")
        .iter()
        .filter(|row| row["name"] == name)
        .collect()
}

fn count(json: &Value, name: &str, outcome: (&str, Value)) -> u64 {
    rows(json, name)
        .iter()
        .filter(|row| row[outcome.0] == outcome.1)
        .map(|row| row["count"].as_u64().unwrap_or(0))
        .sum()
}

fn server(test: &str) -> HttpServer {
    HttpServer::start(&scratch(&format!("{test}-certs")))
}

#[test]
fn session_cookie_unlocks_private_route_until_jar_is_cleared() {
    let server = server("cookies");
    let (result, json) = suite("cookies", "cookies", &server.http, &[], None);
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    assert_eq!(count(&json, "private", ("status", 200.into())), 1);
    assert_eq!(count(&json, "private", ("status", 401.into())), 1);
}

#[test]
fn jar_is_emptied_between_iterations() {
    let server = server("cookie_iterations");
    // Each iteration logs in again: the session of the last one is gone,
    // and the planted cookie never leaks into the next iteration's echo.
    let (result, json) = suite(
        "cookie_iterations",
        "cookies",
        &server.http,
        &["--iterations", "3"],
        None,
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    assert_eq!(count(&json, "login", ("status", 200.into())), 3);
}

#[test]
fn three_hop_redirect_counts_four_requests_and_a_loop_stops_at_the_limit() {
    let server = server("redirects");
    let (result, json) = suite("redirects", "redirects", &server.http, &[], None);
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);

    assert_eq!(count(&json, "chain", ("status", 302.into())), 3, "{json:#}");
    assert_eq!(count(&json, "chain", ("status", 200.into())), 1);
    // The first request and ten redirects, the last refused.
    assert_eq!(count(&json, "loop", ("status", 302.into())), 10);
    assert_eq!(
        count(&json, "loop", ("error_code", "too-many-redirects".into())),
        1
    );
    assert_eq!(count(&json, "unfollowed", ("status", 302.into())), 1);
    assert_eq!(number(&json, "/metrics/http_reqs/count"), 4.0 + 11.0 + 1.0);
}

#[test]
fn max_redirects_option_lowers_the_limit() {
    let server = server("max_redirects");
    let (result, json) = suite(
        "max_redirects",
        "redirects",
        &server.http,
        &[],
        Some(r#"{"maxRedirects": 2}"#),
    );
    // The 3-hop chain now fails: its check fails, the loop stops at 2.
    assert_eq!(
        json["root_group"]["checks"]["chain ends at 200"]["fails"], 1,
        "{result}"
    );
    assert_eq!(count(&json, "chain", ("status", 302.into())), 2);
    assert_eq!(count(&json, "loop", ("status", 302.into())), 2);
}

#[test]
fn hanging_endpoint_times_out_in_about_200ms_and_counts_as_failed() {
    let server = server("timeout");
    let (result, json) = suite("timeout", "timeout", &server.http, &[], None);
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    assert_eq!(count(&json, "hang", ("error_code", "timeout".into())), 1);
    assert_eq!(number(&json, "/metrics/http_req_failed/value"), 1.0);
    let duration = number(&json, "/metrics/http_req_duration/max");
    assert!((150.0..700.0).contains(&duration), "duration {duration} ms");
}

#[test]
fn self_signed_tls_fails_by_default_with_a_tls_error() {
    let server = server("tls_default");
    let (result, json) = suite(
        "tls_default",
        "tls",
        &server.https,
        &["-e", "EXPECT=fail"],
        None,
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    assert_eq!(count(&json, "tls", ("error_code", "tls".into())), 1);
}

#[test]
fn tls_passes_with_the_ca_file_and_negotiates_http2() {
    let server = server("tls_ca");
    let options = serde_json::json!({ "tlsCACert": server.ca_file }).to_string();
    let (result, json) = suite(
        "tls_ca",
        "tls",
        &server.https,
        &[
            "--threshold",
            "http_reqs{proto:HTTP/2.0}: count>0",
            "--threshold",
            "http_reqs{tls_version:tls1.3}: count>0",
        ],
        Some(&options),
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    assert!(number(&json, "/metrics/http_req_tls_handshaking/max") > 0.0);
}

#[test]
fn tls_passes_with_insecure_skip_tls_verify() {
    let server = server("tls_insecure");
    let (result, json) = suite(
        "tls_insecure",
        "tls",
        &server.https,
        &[],
        Some(r#"{"insecureSkipTLSVerify": true}"#),
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);

    let (result, json) = suite(
        "tls_insecure_flag",
        "tls",
        &server.https,
        &["--insecure-skip-tls-verify"],
        None,
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
}

#[test]
fn client_certificate_from_tls_auth_passes_mtls() {
    let server = server("mtls");
    let ca = serde_json::json!({ "tlsCACert": server.ca_file }).to_string();
    let (result, json) = suite(
        "mtls_without",
        "tls",
        &server.mtls,
        &["-e", "EXPECT=fail"],
        Some(&ca),
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);

    let with_cert = serde_json::json!({
        "tlsCACert": server.ca_file,
        "tlsAuth": [{
            "domains": ["127.0.0.1"],
            "cert": server.client_cert_file,
            "key": server.client_key_file,
        }],
    })
    .to_string();
    let (result, json) = suite(
        "mtls_with",
        "tls",
        &server.mtls,
        &["--threshold", "http_reqs{tls_version:tls1.2}: count>0"],
        Some(&with_cert),
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
}

#[test]
fn batch_of_five_300ms_requests_takes_about_300ms() {
    let server = server("batch");
    let (result, json) = suite("batch", "batch", &server.http, &[], None);
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    assert_eq!(number(&json, "/metrics/http_reqs/count"), 5.0);
    let iteration = number(&json, "/metrics/iteration_duration/max");
    assert!(
        (290.0..900.0).contains(&iteration),
        "iteration {iteration} ms"
    );
}

#[test]
fn timing_parts_add_up_and_only_new_connections_connect() {
    let server = server("timings");
    let (result, json) = suite(
        "timings",
        "timings",
        &server.http,
        &["--iterations", "3"],
        None,
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    // Six requests on one kept-alive connection: one connects.
    assert_eq!(number(&json, "/metrics/http_reqs/count"), 6.0);
    assert!(number(&json, "/metrics/http_req_connecting/max") > 0.0);
    assert!(number(&json, "/metrics/http_req_connecting/med") <= 0.001);
    assert_eq!(number(&json, "/metrics/http_req_connecting/min"), 0.0);
    assert!(number(&json, "/metrics/http_req_waiting/min") >= 19.0);
    assert!(number(&json, "/metrics/http_req_sending/max") > 0.0);
    assert!(number(&json, "/metrics/http_req_blocked/max") > 0.0);
}

#[test]
fn no_connection_reuse_connects_every_request() {
    let server = server("no_reuse");
    let (result, json) = suite(
        "no_reuse",
        "timings",
        &server.http,
        &["--iterations", "2", "-e", "NO_REUSE=true"],
        Some(r#"{"noConnectionReuse": true}"#),
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    assert!(number(&json, "/metrics/http_req_connecting/min") > 0.0);
}

#[test]
fn no_vu_connection_reuse_reconnects_each_iteration() {
    let server = server("no_vu_reuse");
    let (result, json) = suite(
        "no_vu_reuse",
        "timings",
        &server.http,
        &["--iterations", "4", "-e", "FIRST_CONNECTS=always"],
        Some(r#"{"noVUConnectionReuse": true}"#),
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    // Each iteration's first request connects, its second reuses.
    assert!(number(&json, "/metrics/http_req_connecting/p(90)") > 0.0);
    assert_eq!(number(&json, "/metrics/http_req_connecting/min"), 0.0);
}

/// Runs the download case and returns the summary and the process's peak
/// resident memory in bytes, read from `/proc` while it runs.
fn download(test: &str, base: &str, mb: u32, args: &[&str], options: &str) -> (Value, u64) {
    let dir = scratch(test);
    let export = dir.join("summary.json");
    let file = dir.join("options.json");
    std::fs::write(&file, options).expect("an options file");
    let mut child = loadwit()
        .arg("run")
        .arg(guest("http_suite"))
        .arg("--config")
        .arg(&file)
        .arg("--summary-export")
        .arg(&export)
        .args(["-e", "CASE=download", "-e", &format!("BASE_URL={base}")])
        .args(["-e", &format!("SIZE_MB={mb}")])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("loadwit starts");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            peak = peak.max(vm_hwm(&text));
        }
        if child
            .try_wait()
            .expect("the child can be waited on")
            .is_some()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (read_json(&export), peak)
}

fn vm_hwm(status: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn discarded_100mb_body_keeps_peak_memory_low() {
    let server = server("discard");
    let options = r#"{"discardResponseBodies": true}"#;
    let (small, idle_peak) = download("discard_small", &server.http, 1, &[], options);
    let (big, big_peak) = download("discard_big", &server.http, 100, &[], options);
    for json in [&small, &big] {
        assert_eq!(
            json["root_group"]["checks"]["download ok"]["fails"], 0,
            "{json:#}"
        );
        assert_eq!(
            json["root_group"]["checks"]["discarded body is empty"]["fails"],
            0
        );
    }
    assert!(number(&big, "/metrics/data_received/count") >= (100u64 << 20) as f64);
    let growth = big_peak.saturating_sub(idle_peak);
    eprintln!(
        "peak RSS: {} MiB with a 1 MB body, {} MiB with 100 MB",
        idle_peak >> 20,
        big_peak >> 20
    );
    assert!(
        growth < 100 << 20,
        "peak memory grew {} MiB (idle {} MiB, 100 MB download {} MiB)",
        growth >> 20,
        idle_peak >> 20,
        big_peak >> 20
    );
}

#[test]
fn per_request_discard_reads_but_does_not_keep_the_body() {
    let server = server("discard_per_request");
    let (json, _) = download(
        "discard_per_request",
        &server.http,
        80,
        &["-e", "PER_REQUEST=1"],
        "{}",
    );
    assert_eq!(
        json["root_group"]["checks"]["download ok"]["fails"], 0,
        "{json:#}"
    );
    assert_eq!(
        json["root_group"]["checks"]["discarded body is empty"]["fails"],
        0
    );
    assert!(number(&json, "/metrics/data_received/count") >= (80u64 << 20) as f64);
}

#[test]
fn ten_thousand_distinct_urls_warn_once_and_cap_the_series() {
    let server = server("distinct_urls");
    let (result, json) = suite(
        "distinct_urls",
        "distinct-urls",
        &server.http,
        &["--vus", "4", "--iterations", "10000"],
        None,
    );
    assert_eq!(result.code, 0, "{result}");
    assert_eq!(number(&json, "/metrics/http_reqs/count"), 10_000.0);
    let warnings = result.stderr.matches("distinct request names").count();
    assert_eq!(warnings, 1, "{}", result.stderr);
    assert!(result.stderr.contains("set `name`"), "{}", result.stderr);

    let rows = json["requests_by_name"].as_array().expect("a breakdown");
    assert!(rows.len() <= 501, "{} rows", rows.len());
    let overflow = count(&json, "(other names)", ("status", 200.into()));
    assert_eq!(overflow, 10_000 - 500);
}

#[test]
fn bodies_round_trip_every_encoding() {
    let server = server("bodies");
    let (result, json) = suite("bodies", "bodies", &server.http, &[], None);
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
}

#[test]
fn user_agent_option_replaces_the_default() {
    let server = server("user_agent");
    let (result, json) = suite(
        "user_agent",
        "bodies",
        &server.http,
        &["-e", "AGENT=probe/1"],
        Some(r#"{"userAgent": "probe/1"}"#),
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);

    // The flag wins over the options file.
    let (result, json) = suite(
        "user_agent_flag",
        "bodies",
        &server.http,
        &["-e", "AGENT=probe/2", "--user-agent", "probe/2"],
        Some(r#"{"userAgent": "probe/1"}"#),
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
}

#[test]
fn transport_failures_get_their_error_codes() {
    let server = server("errors");
    let (result, json) = suite(
        "errors",
        "errors",
        &server.http,
        &["-e", &format!("RESET_URL={}", server.reset)],
        None,
    );
    assert_eq!(result.code, 0, "{result}");
    all_checks_pass(&json, &result);
    for (name, code) in [
        ("refused", "connection-refused"),
        ("invalid", "invalid-url"),
        ("scheme", "invalid-url"),
        ("reset", "connection-reset"),
        ("large", "body-too-large"),
    ] {
        assert_eq!(
            count(&json, name, ("error_code", code.into())),
            1,
            "{name}: {json:#}"
        );
    }
    assert_eq!(number(&json, "/metrics/http_req_failed/value"), 1.0);
}

#[test]
fn bad_ca_file_is_a_config_error() {
    let dir = scratch("bad_ca");
    let file = dir.join("options.json");
    std::fs::write(&file, r#"{"tlsCACert": "/nonexistent/ca.pem"}"#).expect("options");
    let result = run(loadwit()
        .arg("run")
        .arg(guest("http_suite"))
        .arg("--config")
        .arg(&file)
        .args(["-e", "CASE=bodies"]));
    assert_eq!(result.code, 104, "{result}");
    assert!(result.stderr.contains("`tlsCACert`"), "{result}");
}
