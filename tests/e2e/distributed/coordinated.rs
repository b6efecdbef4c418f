//! Coordinated runs: `loadwit coordinate` and three `loadwit agent`
//! processes on 127.0.0.1 against the demo shop, checked against a
//! single-process run of the same plan, against the shop's own counts
//! and against the union of the agents' raw samples.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use loadwit_otel_testkit::sum_of;
use loadwit_shop::{Route, ShopConfig};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::Value;

use crate::support::{
    Shop, TestResult, guest, loadwit, number, read_json, run_against_shop, scratch,
};

const AGENTS: usize = 3;

/// The longest any distributed test may take before it is killed.
const LIMIT: Duration = Duration::from_secs(120);

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a bound address").port()
}

/// A coordinator and its agents, running as real processes.
struct Fleet {
    coordinator: Child,
    agents: Vec<Child>,
    /// The coordinator's stderr, line by line, stamped when read.
    stderr: Arc<Mutex<Vec<(Instant, String)>>>,
    stderr_reader: JoinHandle<()>,
    stdout_reader: JoinHandle<String>,
    dir: PathBuf,
}

/// How a fleet ended.
struct Finished {
    code: i32,
    agent_codes: Vec<i32>,
    /// When each agent was seen to have exited.
    agent_exits: Vec<Instant>,
    stdout: String,
    stderr: Vec<(Instant, String)>,
    summary: Value,
    dir: PathBuf,
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "coordinator exit {}, agents {:?}",
            self.code, self.agent_codes
        )?;
        writeln!(f, "--- stdout\n{}\n--- stderr", self.stdout)?;
        for (_, line) in &self.stderr {
            writeln!(f, "{line}")?;
        }
        for index in 0..self.agent_codes.len() {
            let log = std::fs::read_to_string(self.dir.join(format!("agent-{index}.log")))
                .unwrap_or_default();
            writeln!(f, "--- agent {index}\n{log}")?;
        }
        Ok(())
    }
}

impl Finished {
    fn stderr_text(&self) -> String {
        self.stderr
            .iter()
            .map(|(_, line)| line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// When the coordinator printed a line containing `text`.
    fn printed(&self, text: &str) -> Option<Instant> {
        self.stderr
            .iter()
            .find(|(_, line)| line.contains(text))
            .map(|(at, _)| *at)
    }
}

/// What differs between the fleets of these tests.
struct FleetSpec<'a> {
    wasm: &'a Path,
    shop: &'a Shop,
    options: &'a str,
    /// More `loadwit coordinate` arguments.
    coordinator: &'a [&'a str],
    /// More `loadwit agent` arguments.
    agent: &'a [&'a str],
}

impl Fleet {
    /// Starts the coordinator, then the agents, each writing its own
    /// samples as NDJSON.
    fn start(dir: &Path, spec: &FleetSpec) -> Fleet {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let config = dir.join("options.json");
        std::fs::write(&config, spec.options).expect("the options file writes");
        let mut coordinator = loadwit()
            .arg("coordinate")
            .arg(spec.wasm)
            .args(["--agents", &AGENTS.to_string(), "--listen", &address])
            .arg("--config")
            .arg(&config)
            .arg("--summary-export")
            .arg(dir.join("summary.json"))
            .args(["-e", &format!("BASE_URL={}", spec.shop.url())])
            .args(["-e", "THINK_MIN=0", "-e", "THINK_MAX=0"])
            .args(["--join-timeout", "60s", "--quiet"])
            .args(spec.coordinator)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the coordinator starts");
        let stdout = coordinator.stdout.take().expect("piped stdout");
        let stdout_reader = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = coordinator.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(lines).lines().map_while(Result::ok) {
                sink.lock().unwrap().push((Instant::now(), line));
            }
        });
        let agents = (0..AGENTS)
            .map(|index| agent(dir, &address, index, spec.agent))
            .collect();
        Fleet {
            coordinator,
            agents,
            stderr,
            stderr_reader,
            stdout_reader,
            dir: dir.to_path_buf(),
        }
    }

    /// Waits until the coordinator printed a line containing `text`.
    fn wait_for_line(&self, text: &str, within: Duration) {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .any(|(_, l)| l.contains(text))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the coordinator never printed `{text}`");
    }

    /// Waits for every process to exit, noting when each agent did;
    /// kills them all past [`LIMIT`].
    fn finish(mut self) -> Finished {
        let started = Instant::now();
        let mut agent_codes = vec![None; self.agents.len()];
        let mut agent_exits = vec![None; self.agents.len()];
        let mut code = None;
        while code.is_none() || agent_codes.iter().any(Option::is_none) {
            if started.elapsed() > LIMIT {
                self.kill_all();
                panic!("the fleet ran past {LIMIT:?}");
            }
            for (index, agent) in self.agents.iter_mut().enumerate() {
                if agent_codes[index].is_none()
                    && let Some(status) = agent.try_wait().expect("the agent can be waited for")
                {
                    agent_codes[index] = Some(status.code().unwrap_or(-1));
                    agent_exits[index] = Some(Instant::now());
                }
            }
            if code.is_none()
                && let Some(status) = self.coordinator.try_wait().expect("waitable")
            {
                code = Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stderr_reader.join().expect("the stderr reader ends");
        let stdout = self.stdout_reader.join().expect("the stdout reader ends");
        let summary_path = self.dir.join("summary.json");
        let summary = if summary_path.exists() {
            read_json(&summary_path)
        } else {
            Value::Null
        };
        let stderr = std::mem::take(&mut *self.stderr.lock().unwrap());
        Finished {
            code: code.unwrap_or(-1),
            agent_codes: agent_codes
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
            agent_exits: agent_exits
                .into_iter()
                .map(|e| e.unwrap_or(started))
                .collect(),
            stdout,
            stderr,
            summary,
            dir: self.dir,
        }
    }

    fn kill_all(&mut self) {
        let _ = self.coordinator.kill();
        for agent in &mut self.agents {
            let _ = agent.kill();
        }
    }
}

/// One agent, its log in the test's directory.
fn agent(dir: &Path, address: &str, index: usize, extra: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join(format!("agent-{index}.log"))).expect("a log file");
    let mut command: Command = loadwit();
    command
        .arg("agent")
        .args(["--coordinator", address, "--name", &format!("a{index}")])
        .arg("--cache-dir")
        .arg(dir.join("components"))
        .arg("--out")
        .arg(format!("json={}", ndjson(dir, index).display()))
        .arg("--out")
        .arg(format!("result={}", agent_result(dir, index).display()))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("an agent starts")
}

fn ndjson(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("a{index}.ndjson"))
}

fn agent_result(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("a{index}.result"))
}

/// `loadwit merge` of the agents' result files gives the coordinator's
/// counts and percentiles, for a scenario whose `setup` and `teardown`
/// send nothing (an agent's result holds its share alone).
fn assert_agents_merge_to_the_summary(finished: &Finished) {
    let merged_path = finished.dir.join("merged.json");
    let merged = crate::support::run(
        loadwit()
            .arg("merge")
            .args((0..AGENTS).map(|index| agent_result(&finished.dir, index)))
            .arg("--summary-export")
            .arg(&merged_path),
    );
    assert_eq!(merged.code, finished.code, "{merged}\n{finished}");
    let merged = read_json(&merged_path);
    for metric in ["iterations", "http_reqs", "data_received", "data_sent"] {
        assert_eq!(
            count(&merged, metric),
            count(&finished.summary, metric),
            "{metric}\n{finished}"
        );
    }
    for stat in ["min", "med", "p(90)", "p(95)", "max"] {
        let pointer = format!("/metrics/http_req_duration/{stat}");
        assert_eq!(
            merged.pointer(&pointer),
            finished.summary.pointer(&pointer),
            "{stat}\n{finished}"
        );
    }
    let checks = "/metrics/checks/passes";
    assert_eq!(merged.pointer(checks), finished.summary.pointer(checks));
}

fn count(json: &Value, metric: &str) -> f64 {
    json.pointer(&format!("/metrics/{metric}/count"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

/// Runs the same plan in one process, for comparison.
fn single_run(dir: &Path, spec: &FleetSpec) -> Value {
    let config = dir.join("single-options.json");
    std::fs::write(&config, spec.options).expect("the options file writes");
    let export = dir.join("single-summary.json");
    let mut extra = vec!["--quiet"];
    extra.extend(spec.coordinator);
    let run = run_against_shop(spec.wasm, spec.shop, &config, &export, &extra);
    assert_eq!(run.code, 0, "{run}");
    read_json(&export)
}

fn within(actual: f64, expected: f64, share: f64) -> bool {
    (actual - expected).abs() <= expected * share
}

/// `http_req_duration` over the union of every agent's NDJSON samples,
/// recorded as the engine records it: whole microseconds, 3 significant
/// figures, exact extremes.
fn union_of_samples(dir: &Path) -> (Histogram<u64>, u64, u64) {
    let mut histogram = Histogram::<u64>::new(3).expect("a histogram");
    let (mut min_ns, mut max_ns) = (u64::MAX, 0);
    for index in 0..AGENTS {
        let text = std::fs::read_to_string(ndjson(dir, index)).expect("the agent wrote samples");
        for line in text.lines() {
            let point: Value = serde_json::from_str(line).expect("an NDJSON line");
            if point["type"] != "Point" || point["metric"] != "http_req_duration" {
                continue;
            }
            let ms = point["data"]["value"].as_f64().expect("a value");
            let ns = (ms * 1e6).round() as u64;
            histogram
                .record(((ns + 500) / 1_000).max(1))
                .expect("recordable");
            min_ns = min_ns.min(ns);
            max_ns = max_ns.max(ns);
        }
    }
    (histogram, min_ns, max_ns)
}

/// Checks the summary's `http_req_duration` percentiles against the
/// union of the agents' samples.
fn assert_percentiles_match_samples(finished: &Finished) {
    let (histogram, min_ns, max_ns) = union_of_samples(&finished.dir);
    let summary = &finished.summary["metrics"]["http_req_duration"];
    assert_eq!(
        count(&finished.summary, "http_reqs") as u64,
        histogram.len(),
        "every request the summary counts is in some agent's samples"
    );
    for (key, quantile) in [("med", 0.5), ("p(90)", 0.9), ("p(95)", 0.95)] {
        let us = histogram
            .value_at_quantile(quantile)
            .clamp(min_ns / 1_000, max_ns.div_ceil(1_000));
        let expected_ms = (us as f64 / 1e3).clamp(min_ns as f64 / 1e6, max_ns as f64 / 1e6);
        let merged = summary[key].as_f64().expect("a percentile");
        assert!(
            (merged - expected_ms).abs() < 1e-6,
            "{key}: merged {merged} ms, union of samples {expected_ms} ms"
        );
    }
}

/// The flagship with a fixed think time, so iteration counts follow the
/// VU-seconds the plan schedules rather than the machine's speed.
const RAMPING: &str = r#"{"scenarios": {"ramp": {"executor": "ramping-vus", "startVUs": 0,
    "stages": [{"duration": "2s", "target": 9}, {"duration": "6s", "target": 9},
               {"duration": "1s", "target": 0}], "gracefulRampDown": "1s"}}}"#;

#[test]
fn ramping_vus_across_agents_adds_up_to_one_run() -> TestResult {
    let dir = scratch("distributed_ramping");
    let shop = Shop::start(ShopConfig::default());
    let wasm = guest("shop_stress");
    let think = ["-e", "THINK_MIN=0.1", "-e", "THINK_MAX=0.1"];
    let spec = FleetSpec {
        wasm: &wasm,
        shop: &shop,
        options: RAMPING,
        coordinator: &think,
        agent: &[],
    };
    let finished = Fleet::start(&dir, &spec).finish();
    assert_eq!(finished.code, 0, "{finished}");
    assert_eq!(finished.agent_codes, vec![0; AGENTS], "{finished}");

    let shop_saw = shop.shop.stats().total() as f64;
    let iterations = count(&finished.summary, "iterations");
    let requests = count(&finished.summary, "http_reqs");
    assert_eq!(requests, shop_saw, "the merged count is what the shop saw");
    assert_eq!(requests, 3.0 * iterations, "{finished}");
    let agents = finished.summary["agents"].as_array().expect("agents");
    assert!(
        agents.iter().all(|a| a["iterations"].as_f64() > Some(0.0)),
        "{finished}"
    );
    assert_percentiles_match_samples(&finished);
    // The fleet's VU gauges are the agents' sums, three VUs each at the
    // plateau, not whichever agent reported last.
    assert_eq!(
        number(&finished.summary, "/metrics/vus_max/value"),
        9.0,
        "{finished}"
    );
    assert_eq!(
        number(&finished.summary, "/metrics/vus/max"),
        9.0,
        "{finished}"
    );

    let single = single_run(&dir, &spec);
    let single_iterations = count(&single, "iterations");
    assert!(
        within(iterations, single_iterations, 0.02),
        "distributed {iterations} iterations, single run {single_iterations}"
    );
    Ok(())
}

#[test]
fn constant_arrival_rate_across_agents_adds_up_to_one_run() -> TestResult {
    let dir = scratch("distributed_arrival_rate");
    let shop = Shop::start(ShopConfig::default());
    let wasm = guest("shop_stress");
    let options = r#"{"scenarios": {"rate": {"executor": "constant-arrival-rate",
        "rate": 60, "timeUnit": "1s", "duration": "5s", "preAllocatedVUs": 6, "maxVUs": 12}}}"#;
    let spec = FleetSpec {
        wasm: &wasm,
        shop: &shop,
        options,
        coordinator: &[],
        agent: &[],
    };
    let finished = Fleet::start(&dir, &spec).finish();
    assert_eq!(finished.code, 0, "{finished}");
    let iterations = count(&finished.summary, "iterations");
    let dropped = count(&finished.summary, "dropped_iterations");
    assert_eq!(count(&finished.summary, "http_reqs"), 3.0 * iterations);
    assert_eq!(
        count(&finished.summary, "http_reqs"),
        shop.shop.stats().total() as f64
    );
    assert_percentiles_match_samples(&finished);

    let single = single_run(&dir, &spec);
    let single_started = count(&single, "iterations") + count(&single, "dropped_iterations");
    assert!(
        within(iterations + dropped, single_started, 0.02),
        "distributed {iterations} + {dropped} dropped, single run {single_started}"
    );
    assert!(within(iterations + dropped, 300.0, 0.02), "{finished}");
    assert_agents_merge_to_the_summary(&finished);
    Ok(())
}

/// Shared iterations split exactly, `setup` and `teardown` run once (the
/// shop counts the routes only they use), and `setup`'s data reaches
/// every agent's iterations.
#[test]
fn shared_iterations_split_exactly_and_setup_runs_once() -> TestResult {
    let dir = scratch("distributed_shared_iterations");
    let shop = Shop::start(ShopConfig::default());
    let wasm = guest("lifecycle");
    let options = r#"{"scenarios": {"shared": {"executor": "shared-iterations",
        "vus": 6, "iterations": 301, "maxDuration": "60s"}}}"#;
    let fleet_result = dir.join("fleet.result");
    let out = format!("result={}", fleet_result.display());
    let collector = loadwit_otel_testkit::receiver(loadwit_otel::Protocol::Grpc);
    let endpoint = collector.endpoint();
    let spec = FleetSpec {
        wasm: &wasm,
        shop: &shop,
        options,
        coordinator: &[
            "--out",
            &out,
            "--otlp-endpoint",
            &endpoint,
            "--otlp-protocol",
            "grpc",
            "--otlp-metric-interval",
            "1s",
        ],
        agent: &["--otlp-endpoint", &endpoint, "--otlp-protocol", "grpc"],
    };
    let finished = Fleet::start(&dir, &spec).finish();
    assert_eq!(finished.code, 0, "{finished}");
    let stats = shop.shop.stats();
    assert_eq!(stats.count(Route::Health), 1, "setup ran once\n{finished}");
    assert_eq!(stats.count(Route::Me), 1, "teardown ran once\n{finished}");
    assert_eq!(stats.count(Route::Categories), 301);
    assert_eq!(count(&finished.summary, "iterations"), 301.0);
    assert_eq!(
        count(&finished.summary, "http_reqs"),
        303.0,
        "setup and teardown count"
    );
    let checks = &finished.summary["metrics"]["checks"];
    assert_eq!(checks["fails"], 0, "{finished}");
    assert_eq!(
        number(&finished.summary, "/metrics/checks/passes"),
        2.0 * 301.0 + 1.0
    );

    // The coordinator exports the fleet's metrics, not one agent's share.
    let metrics = collector.received.metrics();
    assert_eq!(sum_of(&metrics, "k6_iterations"), 301.0, "{finished}");
    assert_eq!(sum_of(&metrics, "k6_http_reqs"), 303.0, "{finished}");
    // The agents trace their own iterations and requests, one request
    // span under each iteration span; the coordinator traces `setup` and
    // `teardown`, each with its one request.
    let spans = collector.received.spans();
    for stage in ["setup", "teardown"] {
        let traced = spans
            .iter()
            .filter(|span| span.parent_span_id.is_empty() && span.name == stage)
            .count();
        assert_eq!(traced, 1, "`{stage}` is one trace\n{finished}");
    }
    let roots: BTreeSet<_> = spans
        .iter()
        .filter(|span| span.parent_span_id.is_empty())
        .map(|span| span.span_id.clone())
        .collect();
    let requests: Vec<_> = spans
        .iter()
        .filter(|span| span.kind == SpanKind::Client as i32)
        .collect();
    assert_eq!(roots.len(), 301 + 2, "{finished}");
    assert_eq!(requests.len(), 301 + 2, "{finished}");
    assert!(
        requests
            .iter()
            .all(|span| roots.contains(&span.parent_span_id))
    );

    // The coordinator's own result file is the whole fleet's, setup and
    // teardown included.
    let merged_path = dir.join("fleet-merged.json");
    let merged = crate::support::run(
        loadwit()
            .arg("merge")
            .arg(&fleet_result)
            .arg("--summary-export")
            .arg(&merged_path),
    );
    assert_eq!(merged.code, 0, "{merged}");
    let merged = read_json(&merged_path);
    assert_eq!(count(&merged, "http_reqs"), 303.0, "{finished}");
    assert_eq!(count(&merged, "iterations"), 301.0, "{finished}");
    Ok(())
}

/// Runs the lifecycle scenario across a fleet with these options and
/// coordinator arguments, and waits for every process to end.
fn lifecycle_fleet(test: &str, options: &str, coordinator: &[&str]) -> (Finished, Shop) {
    let dir = scratch(test);
    let shop = Shop::start(ShopConfig::default());
    let wasm = guest("lifecycle");
    let spec = FleetSpec {
        wasm: &wasm,
        shop: &shop,
        options,
        coordinator,
        agent: &[],
    };
    let finished = Fleet::start(&dir, &spec).finish();
    (finished, shop)
}

/// A `setup` that ends the run, which the coordinator runs: `abort()` is
/// the scenario's verdict (exit 108, as `loadwit run` gives, with no
/// error line), an error is a failure (107, with its reason). Either way
/// no iteration runs anywhere, `teardown` does not run, and the agents
/// stop cleanly.
#[test]
fn a_setup_that_aborts_or_fails_stops_the_fleet() -> TestResult {
    let options = r#"{"scenarios": {"shared": {"executor": "shared-iterations",
        "vus": 3, "iterations": 30, "maxDuration": "60s"}}}"#;
    let cases = [
        (
            "ABORT_IN_SETUP=1",
            108,
            "aborted by the scenario: the target is not ready",
        ),
        (
            "FAIL_IN_SETUP=1",
            107,
            "`setup` failed: the target refused the setup",
        ),
    ];
    for (variable, code, said) in cases {
        let test = format!("distributed_setup_{}", &variable[..5].to_lowercase());
        let (finished, shop) = lifecycle_fleet(&test, options, &["-e", variable]);
        assert_eq!(finished.code, code, "{finished}");
        let stderr = finished.stderr_text();
        assert!(stderr.contains(said), "{finished}");
        assert_eq!(stderr.contains("error:"), code == 107, "{finished}");
        assert_eq!(finished.agent_codes, vec![0; AGENTS], "{finished}");
        let stats = shop.shop.stats();
        assert_eq!(stats.count(Route::Health), 1, "setup ran once\n{finished}");
        assert_eq!(stats.count(Route::Categories), 0, "{finished}");
        assert_eq!(stats.count(Route::Me), 0, "no teardown\n{finished}");
        assert_eq!(count(&finished.summary, "http_reqs"), 1.0, "{finished}");
        assert!(
            finished.summary.pointer("/metrics/iterations").is_none(),
            "{finished}"
        );
    }
    Ok(())
}

/// Each agent's third of 300 iterations passes `count<250`; the fleet's
/// total does not.
#[test]
fn a_threshold_failing_only_in_aggregate_fails_the_run() -> TestResult {
    let options = r#"{"scenarios": {"shared": {"executor": "shared-iterations",
        "vus": 3, "iterations": 300, "maxDuration": "60s"}},
        "thresholds": {"iterations": ["count<250"]}}"#;
    let (finished, _shop) = lifecycle_fleet("distributed_aggregate_threshold", options, &[]);
    assert_eq!(finished.code, 99, "{finished}");
    let agents = finished.summary["agents"].as_array().expect("agents");
    for agent in agents {
        assert!(agent["iterations"].as_f64() < Some(250.0), "{finished}");
    }
    assert_eq!(count(&finished.summary, "iterations"), 300.0);
    Ok(())
}

#[test]
fn abort_on_fail_stops_every_agent_within_three_seconds() -> TestResult {
    let options = r#"{"scenarios": {"long": {"executor": "constant-vus",
        "vus": 6, "duration": "60s"}},
        "thresholds": {"iterations": [{"threshold": "count<200", "abortOnFail": true}]}}"#;
    let pause = ["-e", "PAUSE=0.01"];
    let started = Instant::now();
    let (finished, _shop) = lifecycle_fleet("distributed_abort_on_fail", options, &pause);
    assert_eq!(finished.code, 99, "{finished}");
    assert!(started.elapsed() < Duration::from_secs(45), "{finished}");
    let abort = finished
        .printed("stopping all agents now")
        .unwrap_or_else(|| panic!("no abort line\n{finished}"));
    let last_exit = finished.agent_exits.iter().max().copied().expect("agents");
    let took = last_exit.saturating_duration_since(abort);
    eprintln!("every agent exited {took:?} after the coordinator's abort line");
    assert!(took < Duration::from_secs(3), "{took:?}\n{finished}");
    assert_eq!(finished.agent_codes, vec![0; AGENTS], "{finished}");
    assert!(finished.stderr_text().contains("abortOnFail"), "{finished}");
    Ok(())
}

/// Starts a fleet running for 8 s and kills agent 1 three seconds in.
fn fleet_losing_an_agent(test: &str, policy: &str) -> (Finished, Shop) {
    let dir = scratch(test);
    let shop = Shop::start(ShopConfig::default());
    let wasm = guest("lifecycle");
    let options = r#"{"scenarios": {"steady": {"executor": "constant-vus",
        "vus": 3, "duration": "8s"}}}"#;
    let args = ["--on-agent-loss", policy, "-e", "PAUSE=0.05"];
    let spec = FleetSpec {
        wasm: &wasm,
        shop: &shop,
        options,
        coordinator: &args,
        agent: &[],
    };
    let mut fleet = Fleet::start(&dir, &spec);
    fleet.wait_for_line("joined", Duration::from_secs(60));
    fleet.wait_for_line("(3 of 3)", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(4));
    fleet.agents[1].kill().expect("SIGKILL reaches the agent");
    (fleet.finish(), shop)
}

#[test]
fn a_killed_agent_is_reported_and_the_rest_go_on() -> TestResult {
    let (finished, _shop) = fleet_losing_an_agent("distributed_loss_continue", "continue");
    assert_eq!(finished.code, 0, "{finished}");
    let stderr = finished.stderr_text();
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("agent a1 (") && l.contains(") lost: ")),
        "{finished}"
    );
    for agent in finished.summary["agents"].as_array().expect("agents") {
        let expected = if agent["name"] == "a1" {
            "lost"
        } else {
            "done"
        };
        assert_eq!(agent["state"], expected, "{finished}");
    }
    assert!(count(&finished.summary, "iterations") > 0.0);
    assert!(finished.stdout.contains("LOST"), "{finished}");
    Ok(())
}

#[test]
fn a_killed_agent_under_abort_stops_the_run() -> TestResult {
    let (finished, _shop) = fleet_losing_an_agent("distributed_loss_abort", "abort");
    assert_eq!(finished.code, 105, "{finished}");
    assert!(
        finished.stderr_text().contains("--on-agent-loss abort"),
        "{finished}"
    );
    let agents = finished.summary["agents"].as_array().expect("agents");
    let lost = agents.iter().find(|a| a["name"] == "a1").expect("agent a1");
    assert_eq!(lost["state"], "lost", "{finished}");
    assert!(count(&finished.summary, "iterations") > 0.0, "{finished}");
    Ok(())
}

/// One agent of the two wanted joins: the coordinator gives up, and the
/// agent, whose test never started, says so and exits 107 too.
#[test]
fn too_few_agents_fail_clearly() -> TestResult {
    let dir = scratch("distributed_too_few");
    let wasm = guest("lifecycle");
    let address = format!("127.0.0.1:{}", free_port());
    let mut lone = agent(&dir, &address, 0, &[]);
    let run = crate::support::run(
        loadwit()
            .arg("coordinate")
            .arg(&wasm)
            .args(["--agents", "2", "--listen", &address])
            .args(["--join-timeout", "5s", "--quiet"])
            .arg("--summary-export")
            .arg(dir.join("summary.json")),
    );
    assert_eq!(run.code, 107, "{run}");
    assert!(run.stderr.contains("only 1 of 2 agents joined"), "{run}");
    let code = lone.wait().expect("the agent can be waited for").code();
    let log = std::fs::read_to_string(dir.join("agent-0.log"))?;
    assert_eq!(code, Some(107), "{log}");
    assert!(
        log.contains("the coordinator went away before the test started"),
        "{log}"
    );
    Ok(())
}

/// Coordinator and agents authenticate each other with certificates
/// from one CA.
#[test]
fn agents_join_over_mutual_tls() -> TestResult {
    let dir = scratch("distributed_tls");
    let certs = crate::http_server::Certs::generate();
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("a PEM file");
        path.display().to_string()
    };
    let ca = file("ca.pem", &certs.ca_pem);
    let (server, server_key) = (
        file("server.pem", &certs.server_pem),
        file("server-key.pem", &certs.server_key_pem),
    );
    let (client, client_key) = (
        file("client.pem", &certs.client_pem),
        file("client-key.pem", &certs.client_key_pem),
    );
    let shop = Shop::start(ShopConfig::default());
    let wasm = guest("lifecycle");
    let coordinator = [
        "--tls-cert",
        &server,
        "--tls-key",
        &server_key,
        "--tls-ca",
        &ca,
    ];
    let agent = [
        "--tls-ca",
        &ca,
        "--tls-cert",
        &client,
        "--tls-key",
        &client_key,
    ];
    let spec = FleetSpec {
        wasm: &wasm,
        shop: &shop,
        options: r#"{"scenarios": {"s": {"executor": "shared-iterations",
            "vus": 3, "iterations": 30}}}"#,
        coordinator: &coordinator,
        agent: &agent,
    };
    let finished = Fleet::start(&dir, &spec).finish();
    assert_eq!(finished.code, 0, "{finished}");
    assert!(finished.stderr_text().contains("(TLS)"), "{finished}");
    assert_eq!(count(&finished.summary, "iterations"), 30.0);
    Ok(())
}
