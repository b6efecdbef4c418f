//! OTLP export from real runs: the `loadwit` binary running the flagship
//! (and the HTTP suite's batch) against the demo shop, exporting to real
//! gRPC and HTTP/protobuf receivers on 127.0.0.1 that decode every
//! export with `opentelemetry-proto`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use loadwit_otel::Protocol;
use loadwit_otel_testkit::{
    self as receivers, Received, attr, count_points, gauge_values, hex, histogram_count,
    histogram_sum, named, sum_of,
};
use loadwit_shop::{RouteErrorRate, ShopConfig, TraceContext};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::Value;

use crate::bad_input::fixtures;
use crate::http_server::HttpServer;
use crate::support::{Run, Shop, TestResult, guest, loadwit, number, read_json, run, scratch};

/// Received trace contexts the shop keeps: more than any test sends.
const TRACE_LOG: usize = 100_000;

/// A shop that keeps the trace context of every request.
fn traced_shop(error_rate: Option<&str>) -> Result<Shop, Box<dyn std::error::Error>> {
    let error_rate = match error_rate {
        Some(rate) => vec![rate.parse::<RouteErrorRate>()?],
        None => Vec::new(),
    };
    Ok(Shop::start(ShopConfig {
        error_rate,
        trace_log: TRACE_LOG,
        ..ShopConfig::default()
    }))
}

fn protocol_flag(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http/protobuf",
    }
}

/// Runs the flagship against `shop` with no think time beyond `think`
/// seconds, writing the JSON summary to `export`, plus `extra` arguments.
fn flagship(shop: &Shop, export: &Path, think: &str, extra: &[&str]) -> Run {
    run(&mut flagship_command(shop, export, think, extra))
}

/// The command [`flagship`] runs, for tests that add to it.
fn flagship_command(shop: &Shop, export: &Path, think: &str, extra: &[&str]) -> Command {
    let mut command = loadwit();
    command
        .arg("run")
        .arg(guest("shop_stress"))
        .arg("--summary-export")
        .arg(export)
        .arg("--quiet")
        .args(["-e", &format!("BASE_URL={}", shop.url())])
        .args(["-e", &format!("THINK_MIN={think}")])
        .args(["-e", &format!("THINK_MAX={think}")])
        .env("LOADWIT_RUN_ID", "e2e-run")
        .args(extra);
    command
}

fn request_spans(spans: &[Span]) -> Vec<&Span> {
    spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .collect()
}

fn iteration_spans(spans: &[Span]) -> HashMap<(String, String), &Span> {
    spans
        .iter()
        .filter(|s| s.name == "iteration")
        .map(|s| ((hex(&s.trace_id), hex(&s.span_id)), s))
        .collect()
}

/// `(trace id, parent span id)` of every `traceparent` the shop received.
fn received_parents(contexts: &[TraceContext]) -> Vec<(String, String, String)> {
    contexts
        .iter()
        .filter_map(|c| c.traceparent.as_deref())
        .map(|traceparent| {
            let parts: Vec<&str> = traceparent.split('-').collect();
            assert_eq!(parts.len(), 4, "`{traceparent}`");
            assert_eq!(parts[0], "00", "`{traceparent}`");
            (parts[1].into(), parts[2].into(), parts[3].into())
        })
        .collect()
}

fn count(json: &Value, pointer: &str) -> u64 {
    number(json, pointer) as u64
}

/// Configures export to `endpoint` over `protocol`: by flags for gRPC,
/// by the standard variables alone for HTTP/protobuf, so both ways are
/// exercised end to end.
fn configure_export(command: &mut Command, protocol: Protocol, endpoint: &str) {
    match protocol {
        Protocol::Grpc => command.args([
            "--otlp-endpoint",
            endpoint,
            "--otlp-protocol",
            protocol_flag(protocol),
            "--otlp-metric-interval",
            "500ms",
            "--otlp-service-name",
            "checkout-load",
            "--otlp-header",
            "x-api-key=secret",
            "--otlp-resource-attribute",
            "deployment.environment=ci",
        ]),
        Protocol::HttpProtobuf => command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol_flag(protocol))
            .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
            .env("OTEL_SERVICE_NAME", "checkout-load")
            .env("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret")
            .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci"),
    };
}

/// The flagship exports one client span per request under its iteration
/// span, the shop saw exactly those spans as parents, and the metric
/// points add up to the summary.
fn export_matches_the_run(protocol: Protocol, test: &str) -> TestResult {
    let receiver = receivers::receiver(protocol);
    let shop = traced_shop(None)?;
    let export = scratch(test).join("summary.json");
    let args = ["--vus", "3", "--duration", "2s", "--tag", "team=checkout"];
    let mut command = flagship_command(&shop, &export, "0.05", &args);
    configure_export(&mut command, protocol, &receiver.endpoint());
    let result = run(&mut command);
    assert_eq!(result.code, 0, "{result}");
    let json = read_json(&export);
    let requests = count(&json, "/metrics/http_reqs/count");
    let iterations = count(&json, "/metrics/iterations/count");
    assert!(requests >= 30, "only {requests} requests\n{result}");

    let spans = receiver.received.spans();
    spans_match_requests(&spans, &json, &shop, requests, iterations)?;
    trace_context_matches_spans(&spans, &shop, requests);
    metrics_match_summary(&receiver.received, &json, requests, iterations);

    let resource = receiver.received.trace_resource();
    let resource = |key: &str| attr(&resource, key);
    assert_eq!(resource("loadwit.run.id").as_deref(), Some("e2e-run"));
    assert_eq!(resource("team").as_deref(), Some("checkout"));
    assert_eq!(resource("service.name").as_deref(), Some("checkout-load"));
    assert_eq!(resource("deployment.environment").as_deref(), Some("ci"));
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(resource("service.version").as_deref(), Some(version));
    let keys = receiver.received.header("x-api-key");
    assert!(keys.len() >= 3, "{} exports", keys.len());
    assert!(
        keys.iter().all(|k| k.as_deref() == Some("secret")),
        "{keys:?}"
    );

    let points = count_points(&receiver.received.metrics());
    assert_eq!(count(&json, "/otlp/spans/exported"), spans.len() as u64);
    assert_eq!(count(&json, "/otlp/points/exported"), points);
    assert_eq!(count(&json, "/otlp/spans/dropped"), 0);
    assert_eq!(count(&json, "/otlp/points/dropped"), 0);
    assert_eq!(json.pointer("/otlp/first_failure"), Some(&Value::Null));
    let line = result
        .stdout
        .lines()
        .find(|line| line.contains("otlp export"))
        .unwrap_or_else(|| panic!("no export line\n{result}"));
    let spans_text = loadwit_metrics::format::format_count(spans.len() as u64);
    assert!(line.contains(&format!("{spans_text} spans")), "{line}");
    Ok(())
}

fn spans_match_requests(
    spans: &[Span],
    json: &Value,
    shop: &Shop,
    requests: u64,
    iterations: u64,
) -> TestResult {
    let iteration_spans = iteration_spans(spans);
    let request_spans = request_spans(spans);
    assert_eq!(request_spans.len() as u64, requests, "one span per request");
    assert_eq!(iteration_spans.len() as u64, iterations);

    for span in &request_spans {
        let key = (hex(&span.trace_id), hex(&span.parent_span_id));
        assert!(
            iteration_spans.contains_key(&key),
            "request span {} has no iteration parent",
            hex(&span.span_id)
        );
        let attrs = &span.attributes;
        let method = attr(attrs, "http.request.method").expect("a method");
        assert!(method == "GET" || method == "POST", "{method}");
        assert_eq!(span.name, method);
        let url = attr(attrs, "url.full").expect("a URL");
        assert!(url.starts_with(&shop.url()), "{url}");
        assert_eq!(attr(attrs, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(
            attr(attrs, "server.port"),
            Some(shop.shop.addr.port().to_string())
        );
        assert_eq!(
            attr(attrs, "http.response.status_code").as_deref(),
            Some("200")
        );
    }

    let mut checks = 0;
    let mut iterations_seen = BTreeSet::new();
    for span in iteration_spans.values() {
        let attrs = &span.attributes;
        assert_eq!(attr(attrs, "loadwit.scenario").as_deref(), Some("default"));
        let vu: u64 = attr(attrs, "loadwit.vu").expect("a VU").parse()?;
        assert!((1..=3).contains(&vu), "VU {vu}");
        let iteration: u64 = attr(attrs, "loadwit.iteration")
            .expect("an iteration")
            .parse()?;
        assert!(
            iterations_seen.insert((vu, iteration)),
            "({vu}, {iteration}) twice"
        );
        for event in span.events.iter().filter(|e| e.name == "check") {
            checks += 1;
            assert!(attr(&event.attributes, "loadwit.check.name").is_some());
            let passed = attr(&event.attributes, "loadwit.check.passed");
            assert_eq!(passed.as_deref(), Some("true"));
        }
    }
    let summary_checks =
        count(json, "/metrics/checks/passes") + count(json, "/metrics/checks/fails");
    assert_eq!(checks, summary_checks, "one check event per check");
    Ok(())
}

/// Every traceparent the shop received names an exported request span,
/// and every request span was received: 1:1.
fn trace_context_matches_spans(spans: &[Span], shop: &Shop, requests: u64) {
    let log = shop.shop.trace_log();
    assert_eq!(log.seen(), requests, "every request carried trace context");
    let received = received_parents(&log.contexts());
    assert!(
        received.iter().all(|(_, _, flags)| flags == "01"),
        "all sampled"
    );
    let received: BTreeSet<(String, String)> =
        received.into_iter().map(|(t, p, _)| (t, p)).collect();
    let exported: BTreeSet<(String, String)> = request_spans(spans)
        .iter()
        .map(|s| (hex(&s.trace_id), hex(&s.span_id)))
        .collect();
    assert_eq!(received.len() as u64, requests, "parent ids are unique");
    assert_eq!(received, exported);
}

fn metrics_match_summary(received: &Received, json: &Value, requests: u64, iterations: u64) {
    let metrics = received.metrics();
    assert!(
        named(&metrics, "k6_http_reqs").len() >= 2,
        "several delta points over the run ({} exports)",
        received.metric_exports()
    );
    assert_eq!(sum_of(&metrics, "k6_http_reqs") as u64, requests);
    assert_eq!(sum_of(&metrics, "k6_iterations") as u64, iterations);
    let passes = count(json, "/metrics/checks/passes");
    let fails = count(json, "/metrics/checks/fails");
    assert_eq!(sum_of(&metrics, "k6_checks_total") as u64, passes + fails);
    assert_eq!(sum_of(&metrics, "k6_checks_nonzero") as u64, passes);
    assert_eq!(
        sum_of(&metrics, "k6_http_req_failed_total") as u64,
        requests
    );
    assert_eq!(histogram_count(&metrics, "k6_http_req_duration"), requests);
    assert_eq!(histogram_count(&metrics, "k6_http_req_waiting"), requests);
    assert_eq!(
        histogram_count(&metrics, "k6_iteration_duration"),
        iterations
    );
    let sent = count(json, "/metrics/data_sent/count");
    assert_eq!(sum_of(&metrics, "k6_data_sent") as u64, sent);
}

#[test]
fn grpc_export_has_one_span_per_request_and_metrics_equal_to_the_summary() -> TestResult {
    export_matches_the_run(Protocol::Grpc, "otel_grpc_export")
}

#[test]
fn http_export_has_one_span_per_request_and_metrics_equal_to_the_summary() -> TestResult {
    export_matches_the_run(Protocol::HttpProtobuf, "otel_http_export")
}

#[test]
fn unsampled_run_exports_every_failed_request_and_no_other() -> TestResult {
    let receiver = receivers::receiver(Protocol::HttpProtobuf);
    // Every iteration browses, and every other search fails.
    let shop = traced_shop(Some("/api/search=0.5"))?;
    let export = scratch("otel_unsampled").join("summary.json");
    let result = flagship(
        &shop,
        &export,
        "0",
        &[
            "--vus",
            "2",
            "--iterations",
            "40",
            "-e",
            "AUTH_SHARE=0",
            "--otlp-endpoint",
            &receiver.endpoint(),
            "--otlp-sample-ratio",
            "0",
        ],
    );
    assert_eq!(
        result.code, 99,
        "the failure-rate threshold fails\n{result}"
    );
    let json = read_json(&export);
    let failed = count(&json, "/metrics/http_req_failed/passes");
    assert_eq!(failed, 20, "{result}");
    assert_eq!(count(&json, "/metrics/http_reqs/count"), 120);

    let spans = receiver.received.spans();
    let requests = request_spans(&spans);
    assert_eq!(requests.len() as u64, failed, "only failed requests");
    for span in &requests {
        let attrs = &span.attributes;
        assert_eq!(
            attr(attrs, "http.response.status_code").as_deref(),
            Some("500")
        );
        assert_eq!(attr(attrs, "error.type").as_deref(), Some("500"));
        assert!(attr(attrs, "url.full").is_some_and(|u| u.contains("/api/search")));
    }
    let iterations = iteration_spans(&spans);
    assert_eq!(iterations.len() as u64, failed, "one failing search each");
    for span in iterations.values() {
        let sampled = attr(&span.attributes, "loadwit.head_sampled");
        assert_eq!(sampled.as_deref(), Some("false"));
    }

    // The shop saw unsampled trace context on every request, and the
    // failed ones name the exported spans.
    let received = received_parents(&shop.shop.trace_log().contexts());
    assert_eq!(received.len(), 120);
    assert!(received.iter().all(|(_, _, flags)| flags == "00"));
    let received: BTreeSet<(String, String)> =
        received.into_iter().map(|(t, p, _)| (t, p)).collect();
    for span in &requests {
        let key = (hex(&span.trace_id), hex(&span.span_id));
        assert!(received.contains(&key), "{key:?} never reached the shop");
    }
    assert_eq!(count(&json, "/otlp/spans/exported"), spans.len() as u64);
    Ok(())
}

/// Iterations that fail (here, trap) are exported at ratio 0, as
/// error spans that say why; the ones that pass are not.
#[test]
fn unsampled_run_exports_every_failed_iteration_and_no_other() -> TestResult {
    let receiver = receivers::receiver(Protocol::Grpc);
    let options =
        r#"{"scenarios": {"traps": {"executor": "per-vu-iterations", "vus": 2, "iterations": 6}}}"#;
    let dir = scratch("otel_failed_iterations");
    let trap = fixtures::trapping_every_other(options);
    let path = fixtures::write(&dir, "trap.wasm", &trap);
    let export = dir.join("summary.json");
    let result = run(loadwit()
        .arg("run")
        .arg(&path)
        .arg("--summary-export")
        .arg(&export)
        .args(["--otlp-endpoint", &receiver.endpoint()])
        .args(["--otlp-protocol", "grpc", "--otlp-sample-ratio", "0"]));
    assert_eq!(result.code, 0, "{result}");
    let json = read_json(&export);
    assert_eq!(count(&json, "/metrics/iterations/count"), 12);
    assert_eq!(count(&json, "/failed_iterations/count"), 6);

    let spans = receiver.received.spans();
    let iterations = iteration_spans(&spans);
    assert_eq!(iterations.len(), 6, "only the failed iterations");
    for span in iterations.values() {
        let status = span.status.as_ref().expect("an error status");
        assert_eq!(status.code, StatusCode::Error as i32);
        assert!(status.message.contains("unreachable"), "{}", status.message);
        let sampled = attr(&span.attributes, "loadwit.head_sampled");
        assert_eq!(sampled.as_deref(), Some("false"));
        assert_eq!(
            attr(&span.attributes, "loadwit.scenario").as_deref(),
            Some("traps")
        );
    }
    assert_eq!(count(&json, "/otlp/spans/exported"), spans.len() as u64);
    Ok(())
}

#[test]
fn batch_requests_each_get_a_span_under_the_iteration() -> TestResult {
    let server = HttpServer::start(&scratch("otel_batch-certs"));
    let receiver = receivers::receiver(Protocol::Grpc);
    let export = scratch("otel_batch").join("summary.json");
    let result = run(loadwit()
        .arg("run")
        .arg(guest("http_suite"))
        .arg("--summary-export")
        .arg(&export)
        .args([
            "-e",
            "CASE=batch",
            "-e",
            &format!("BASE_URL={}", server.http),
        ])
        .args(["--iterations", "2", "--quiet"])
        .args(["--otlp-endpoint", &receiver.endpoint()])
        .args(["--otlp-protocol", "grpc"]));
    assert_eq!(result.code, 0, "{result}");
    let json = read_json(&export);
    assert_eq!(count(&json, "/metrics/http_reqs/count"), 10);

    let spans = receiver.received.spans();
    let iterations = iteration_spans(&spans);
    assert_eq!(iterations.len(), 2);
    let requests = request_spans(&spans);
    assert_eq!(requests.len(), 10);
    for (trace_id, span_id) in iterations.keys() {
        let children = requests
            .iter()
            .filter(|s| hex(&s.trace_id) == *trace_id && hex(&s.parent_span_id) == *span_id)
            .count();
        assert_eq!(children, 5, "five batch requests under each iteration");
    }
    let span_ids: BTreeSet<String> = requests.iter().map(|s| hex(&s.span_id)).collect();
    assert_eq!(span_ids.len(), 10, "each request has its own span");
    Ok(())
}

/// The scenario's own metrics (and `group_duration`) are exported by
/// kind, with the totals the metrics suite records, under k6's bare
/// names when the prefix is emptied.
#[test]
fn custom_metrics_are_exported_by_kind_with_their_totals() -> TestResult {
    let receiver = receivers::receiver(Protocol::Grpc);
    let export = scratch("otel_custom").join("summary.json");
    let result = run(loadwit()
        .arg("run")
        .arg(guest("metrics_suite"))
        .arg("--summary-export")
        .arg(&export)
        .arg("--quiet")
        .args(["--otlp-endpoint", &receiver.endpoint()])
        .args(["--otlp-protocol", "grpc"])
        .args(["--otlp-metric-prefix", ""]));
    assert_eq!(result.code, 0, "{result}");
    let json = read_json(&export);
    assert_eq!(count(&json, "/metrics/iterations/count"), 10, "2 VUs x 5");

    let metrics = receiver.received.metrics();
    assert_eq!(sum_of(&metrics, "items_sold"), 30.0);
    assert_eq!(histogram_count(&metrics, "basket_size"), 200);
    assert_eq!(histogram_sum(&metrics, "basket_size"), 2100.0);
    assert_eq!(histogram_count(&metrics, "cart_time"), 10);
    let cart_time = named(&metrics, "cart_time");
    assert!(cart_time.iter().all(|m| m.unit == "ms"), "a time trend");
    let cart_sum = histogram_sum(&metrics, "cart_time");
    assert!((cart_sum - 1000.0).abs() < 1.0, "{cart_sum} ms in all");
    assert_eq!(sum_of(&metrics, "in_stock_nonzero"), 30.0);
    assert_eq!(sum_of(&metrics, "in_stock_total"), 40.0);
    let ratios = gauge_values(&metrics, "in_stock");
    assert!(ratios.iter().all(|r| *r == 0.75), "{ratios:?}");
    let depths = gauge_values(&metrics, "queue_depth");
    let last = number(&json, "/metrics/queue_depth/value");
    assert_eq!(depths.last(), Some(&last), "the gauge's latest reading");
    assert_eq!(histogram_count(&metrics, "group_duration"), 20);
    Ok(())
}

#[test]
fn trace_context_alone_reaches_the_shop_and_exports_nothing() -> TestResult {
    let shop = traced_shop(None)?;
    let export = scratch("otel_context_only").join("summary.json");
    let result = flagship(
        &shop,
        &export,
        "0",
        &[
            "--iterations",
            "10",
            "--otlp-trace-context",
            "on",
            "--otlp-propagators",
            "tracecontext,datadog",
        ],
    );
    assert_eq!(result.code, 0, "{result}");
    let json = read_json(&export);
    assert_eq!(count(&json, "/metrics/http_reqs/count"), 30);
    assert!(
        json.get("otlp").is_none(),
        "nothing exported, nothing to say"
    );
    assert!(!result.stdout.contains("otlp export"), "{result}");

    let contexts = shop.shop.trace_log().contexts();
    assert_eq!(contexts.len(), 30);
    for context in &contexts {
        let traceparent = context.traceparent.as_deref().expect("traceparent");
        let parts: Vec<&str> = traceparent.split('-').collect();
        let trace_id = context.datadog_trace_id.as_deref().expect("a Datadog id");
        let lower = format!("{:016x}", trace_id.parse::<u64>()?);
        assert_eq!(&parts[1][16..], lower, "the same trace");
        let parent = context.datadog_parent_id.as_deref().expect("a parent");
        assert_eq!(parts[2], format!("{:016x}", parent.parse::<u64>()?));
    }
    Ok(())
}

#[test]
fn silent_and_absent_collectors_neither_fail_nor_stall_the_run() -> TestResult {
    let silent = receivers::silent_collector();
    let cases = [
        ("otel_silent", silent.endpoint(), "http/protobuf"),
        ("otel_absent", receivers::absent_collector(), "grpc"),
    ];
    for (test, endpoint, protocol) in cases {
        let shop = traced_shop(None)?;
        let export = scratch(test).join("summary.json");
        let started = Instant::now();
        let result = flagship(
            &shop,
            &export,
            "0",
            &[
                "--vus",
                "2",
                "--iterations",
                "20",
                "--otlp-endpoint",
                &endpoint,
                "--otlp-protocol",
                protocol,
                "--otlp-timeout",
                "300ms",
                "--otlp-metric-interval",
                "100ms",
            ],
        );
        let elapsed = started.elapsed();
        assert_eq!(result.code, 0, "{test}: {result}");
        let json = read_json(&export);
        assert_eq!(count(&json, "/metrics/http_reqs/count"), 60, "{test}");
        assert_eq!(shop.shop.trace_log().seen(), 60, "{test}");
        assert_eq!(count(&json, "/otlp/spans/exported"), 0, "{test}");
        assert!(count(&json, "/otlp/spans/dropped") > 0, "{test}: {json:#}");
        assert!(count(&json, "/otlp/points/dropped") > 0, "{test}: {json:#}");
        assert!(result.stdout.contains("points dropped"), "{test}: {result}");
        // The summary says why, as the JSON does.
        let why = json
            .pointer("/otlp/first_failure")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{test}: no first failure\n{json:#}"));
        let expected = if test == "otel_silent" {
            "timed out"
        } else {
            "refused"
        };
        assert!(why.contains(expected), "{test}: {why}");
        assert!(result.stdout.contains("first drop: "), "{test}: {result}");
        // The flush waits the export timeout at most, not the default 10 s.
        assert!(elapsed.as_secs() < 8, "{test} took {elapsed:?}");
    }
    Ok(())
}

/// Flags, an environment variable, and the name the error must give.
type BadSetting<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, &'a str);

#[test]
fn bad_otlp_settings_exit_104_naming_the_flag_or_variable() {
    let shop = Shop::start(ShopConfig::default());
    let cases: [BadSetting; 4] = [
        (
            &["--otlp-sample-ratio", "1.5"],
            None,
            "`--otlp-sample-ratio`",
        ),
        (
            &["--otlp-trace-context", "maybe"],
            None,
            "`--otlp-trace-context`",
        ),
        (
            &["--otlp-endpoint", "localhost:4317"],
            None,
            "`--otlp-endpoint`",
        ),
        (
            &[],
            Some(("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")),
            "`OTEL_EXPORTER_OTLP_PROTOCOL`",
        ),
    ];
    for (args, env, named) in cases {
        let mut command = loadwit();
        command
            .arg("run")
            .arg(guest("shop_stress"))
            .args([
                "--iterations",
                "1",
                "-e",
                &format!("BASE_URL={}", shop.url()),
            ])
            .args(args);
        if let Some((name, value)) = env {
            command.env(name, value);
        }
        let result = run(&mut command);
        assert_eq!(result.code, 104, "{result}");
        let message = result.stderr.trim();
        assert_eq!(message.lines().count(), 1, "{result}");
        assert!(message.contains(named), "{result}");
        assert_eq!(shop.shop.stats().total(), 0, "nothing ran");
    }
}

/// The request rate with export on, against a receiver that keeps up and
/// one that never answers, next to the rate without export: the claim is
/// that exporting costs the test under 5 % of its request rate. Rounds
/// alternate the three modes, each round starting from the next one, so
/// each sees the same machine noise; the best round of each counts. Prints the rates, the ratios and the
/// export counts; run it alone on a quiet machine:
/// `cargo test --release -p loadwit-cli --test e2e -- --ignored
/// export_keeps_the_request_rate --nocapture`.
#[test]
#[ignore = "a timing measurement; run it alone on a quiet machine"]
fn export_keeps_the_request_rate() -> TestResult {
    const ROUNDS: usize = 5;
    let receiver = receivers::receiver(Protocol::HttpProtobuf);
    let silent = receivers::silent_collector();
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("otel_rate");
    let (receiver, silent) = (receiver.endpoint(), silent.endpoint());
    let modes: [(&str, Vec<&str>); 3] = [
        ("without export", vec![]),
        (
            "exporting to a receiver",
            vec!["--otlp-endpoint", &receiver],
        ),
        (
            "exporting to a silent collector",
            vec!["--otlp-endpoint", &silent, "--otlp-timeout", "1s"],
        ),
    ];
    let mut best = [0.0f64; 3];
    let mut last = vec![Value::Null; 3];
    for round in 0..ROUNDS {
        // Each round starts from another mode, so none always runs first.
        for mode in (0..modes.len()).map(|i| (i + round) % modes.len()) {
            let extra = &modes[mode].1;
            let export = dir.join(format!("{round}-{mode}.json"));
            let mut args = vec!["--vus", "10", "--duration", "4s"];
            args.extend_from_slice(extra);
            let result = flagship(&shop, &export, "0", &args);
            assert_eq!(result.code, 0, "{result}");
            let json = read_json(&export);
            best[mode] = best[mode].max(number(&json, "/metrics/http_reqs/rate"));
            last[mode] = json;
        }
    }
    for (mode, (name, _)) in modes.iter().enumerate() {
        let ratio = best[mode] / best[0];
        let (otlp, requests) = (&last[mode]["otlp"], &last[mode]["metrics"]["http_reqs"]);
        println!(
            "{name:<32} {:>9.0} requests/s ({ratio:.3} of the rate without); \
             last round: {} requests, otlp {otlp}",
            best[mode], requests["count"]
        );
    }
    assert!(last[1]["otlp"]["spans"]["exported"].as_u64() > Some(0));
    for (mode, (name, _)) in modes.iter().enumerate().skip(1) {
        let ratio = best[mode] / best[0];
        assert!(
            ratio > 0.95,
            "{name}: {ratio:.3} of the rate without export"
        );
    }
    Ok(())
}
