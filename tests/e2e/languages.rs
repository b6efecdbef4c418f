//! Scenarios in Rust, Python and JavaScript: the same flagship in each
//! language does the same work, and `loadwit new`, `build` and `run`
//! work for each.
//!
//! The Python and JavaScript guests are built from source here with
//! `loadwit build` (componentize-py, and componentize-js and
//! componentize-qjs for JavaScript on SpiderMonkey and QuickJS, which
//! `.ci/run` installs), once per test process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use loadwit_shop::ShopConfig;
use serde_json::Value;

use crate::support::{
    Shop, TestResult, guest, guest_target_dir, loadwit, number, read_json, root, run,
    run_against_shop, scratch,
};

/// The shop routes each flagship path visits, as request names.
const BROWSE: [&str; 3] = [
    "/api/catalog/products",
    "/api/catalog/categories",
    "/api/search",
];
const MEMBERS: [&str; 3] = ["/api/auth/login", "/api/orders", "/api/auth/me"];

/// VUs and iterations per VU of each of the two scenarios below.
const VUS: u64 = 3;
const ITERATIONS: u64 = 4;

/// Two exact scenarios: one where nobody signs in, one where everybody
/// does, so every request name has a known count in every language.
fn both_paths_config() -> String {
    let scenario = |share: &str| {
        format!(
            r#"{{"executor": "per-vu-iterations", "vus": {VUS}, "iterations": {ITERATIONS},
                "env": {{"AUTH_SHARE": "{share}"}}}}"#
        )
    };
    format!(
        r#"{{"scenarios": {{"browse": {}, "members": {}}}}}"#,
        scenario("0"),
        scenario("1")
    )
}

/// Builds the project in `dir` with `loadwit build`, and extra `args`,
/// into `out`.
fn build_with(dir: &Path, out: &Path, args: &[&str]) -> PathBuf {
    let result = run(loadwit()
        .arg("build")
        .arg(dir)
        .arg("--out")
        .arg(out)
        .args(args));
    assert_eq!(
        result.code,
        0,
        "`loadwit build {}` failed; are componentize-py and `npm ci` in sdk/js installed? {result}",
        dir.display()
    );
    out.to_owned()
}

fn built_flagship(lang: &str, args: &[&str], cell: &'static OnceLock<PathBuf>) -> PathBuf {
    cell.get_or_init(|| {
        let dir = guest_target_dir().join("languages");
        std::fs::create_dir_all(&dir).expect("a directory for built guests");
        let suffix = args.last().map_or(String::new(), |arg| format!("_{arg}"));
        build_with(
            &root().join("guest-examples").join(lang).join("shop-stress"),
            &dir.join(format!("shop_stress_{lang}{suffix}.wasm")),
            args,
        )
    })
    .clone()
}

fn python_flagship() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    built_flagship("python", &[], &BUILT)
}

fn js_flagship() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    built_flagship("js", &["--js-engine", "spidermonkey"], &BUILT)
}

/// The same JavaScript flagship and SDK, on QuickJS.
fn quickjs_flagship() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    built_flagship("js", &["--js-engine", "quickjs"], &BUILT)
}

/// What one language's run did: requests per name and status, and
/// passes and fails per check.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    requests: BTreeMap<String, (u64, u64)>,
    checks: BTreeMap<String, (u64, u64)>,
}

impl Outcome {
    fn of(json: &Value) -> Self {
        let requests = json["requests_by_name"]
            .as_array()
            .expect("a breakdown")
            .iter()
            .map(|row| {
                let name = row["name"].as_str().expect("a name").to_owned();
                let status = row["status"].as_u64().expect("a status");
                (name, (status, row["count"].as_u64().expect("a count")))
            })
            .collect();
        let checks = json["root_group"]["checks"]
            .as_object()
            .expect("checks")
            .iter()
            .map(|(name, check)| {
                let count = |key: &str| check[key].as_u64().expect("a check count");
                (name.clone(), (count("passes"), count("fails")))
            })
            .collect();
        Self { requests, checks }
    }
}

fn run_flagship(wasm: &Path, test: &str) -> Result<Outcome, Box<dyn std::error::Error>> {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch(test);
    let export = dir.join("summary.json");
    let config = dir.join("options.json");
    std::fs::write(&config, both_paths_config())?;

    let result = run_against_shop(wasm, &shop, &config, &export, &[]);
    assert_eq!(result.code, 0, "{}: {result}", wasm.display());

    let json = read_json(&export);
    let requests = 2 * VUS * ITERATIONS * 3;
    assert_eq!(number(&json, "/metrics/http_reqs/count") as u64, requests);
    assert_eq!(shop.shop.stats().total(), requests, "{}", wasm.display());
    Ok(Outcome::of(&json))
}

#[test]
fn flagships_in_three_languages_and_two_js_engines_do_the_same_work() -> TestResult {
    // Build the Python and JavaScript guests side by side: each takes
    // tens of seconds (QuickJS a few).
    let (python, js, quickjs) = std::thread::scope(|scope| {
        let python = scope.spawn(python_flagship);
        let js = scope.spawn(js_flagship);
        let quickjs = scope.spawn(quickjs_flagship);
        (python.join(), js.join(), quickjs.join())
    });
    let guests = [
        ("rust", guest("shop_stress")),
        ("python", python.expect("the Python build")),
        ("js", js.expect("the JavaScript build")),
        ("js_quickjs", quickjs.expect("the QuickJS build")),
    ];

    let per_name = VUS * ITERATIONS;
    let expected = Outcome {
        requests: BROWSE
            .iter()
            .chain(&MEMBERS)
            .map(|name| (name.to_string(), (200, per_name)))
            .collect(),
        checks: [
            "products ok",
            "categories ok",
            "search ok",
            "login ok",
            "orders ok",
            "me ok",
        ]
        .iter()
        .map(|name| (name.to_string(), (per_name, 0)))
        .collect(),
    };
    for (lang, wasm) in guests {
        let outcome = run_flagship(&wasm, &format!("flagship_{lang}"))?;
        assert_eq!(outcome, expected, "{lang} differs from the expected run");
    }
    Ok(())
}

#[test]
fn inspect_names_world_exports_and_options() -> TestResult {
    let result = run(loadwit().arg("inspect").arg(python_flagship()));
    assert_eq!(result.code, 0, "{result}");
    for wanted in [
        "world    loadwit:scenario@0.2.0",
        "exports  options, setup, run, teardown",
        "default: 20 VUs for 30s, constant-vus",
        "http_req_failed",
        "size     18 MB",
    ] {
        assert!(result.stdout.contains(wanted), "no `{wanted}`: {result}");
    }
    Ok(())
}

#[test]
fn new_then_build_then_run_works_in_every_language() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    let dir = scratch("new_build_run");
    let builds: [(&str, &str, &[&str]); 4] = [
        ("rust", "rust", &[]),
        ("python", "python", &[]),
        ("js", "js", &[]),
        ("qjs", "js", &["--js-engine", "quickjs"]),
    ];
    for (name, lang, args) in builds {
        let project = dir.join(format!("browse-{name}"));
        let result = run(loadwit().arg("new").arg(&project).args(["--lang", lang]));
        assert_eq!(result.code, 0, "{result}");

        // Rust projects reuse the guests' target directory, so the SDK's
        // dependencies are compiled once.
        let result = run(loadwit()
            .arg("build")
            .arg(&project)
            .args(args)
            .env("CARGO_TARGET_DIR", guest_target_dir()));
        assert_eq!(result.code, 0, "{name}: {result}");
        let wasm = project.join(format!("browse_{name}.wasm"));
        assert!(
            result.stdout.contains(&wasm.display().to_string()),
            "{result}"
        );

        let export = project.join("summary.json");
        let result = run(loadwit()
            .arg("run")
            .arg(&wasm)
            .args(["--vus", "2", "--iterations", "4"])
            .arg("--summary-export")
            .arg(&export)
            .args(["-e", &format!("BASE_URL={}", shop.url())]));
        assert_eq!(result.code, 0, "{name}: {result}");
        let json = read_json(&export);
        assert_eq!(number(&json, "/metrics/http_reqs/count"), 8.0, "{name}");
        assert_eq!(number(&json, "/metrics/checks/passes"), 8.0, "{name}");
        assert_eq!(number(&json, "/metrics/checks/fails"), 0.0, "{name}");
    }
    assert_eq!(shop.shop.stats().total(), 4 * 8);
    Ok(())
}

#[test]
fn build_names_what_it_cannot_build() -> TestResult {
    let dir = scratch("build_empty");
    let result = run(loadwit().arg("build").arg(&dir));
    assert_eq!(result.code, 107, "{result}");
    assert!(
        result.stderr.contains("holds no scenario project"),
        "{result}"
    );
    assert!(result.stderr.contains("loadwit new"), "{result}");
    Ok(())
}

#[test]
fn build_names_the_missing_toolchain_and_how_to_install_it() -> TestResult {
    let dir = scratch("build_missing_tool");
    let project = dir.join("lonely");
    let result = run(loadwit()
        .arg("new")
        .arg(&project)
        .args(["--lang", "python"]));
    assert_eq!(result.code, 0, "{result}");

    let result = run(loadwit().arg("build").arg(&project).env("PATH", &dir));
    assert_eq!(result.code, 107, "{result}");
    assert!(
        result
            .stderr
            .contains("`componentize-py` is not installed; install it from PyPI"),
        "{result}"
    );
    Ok(())
}

#[test]
fn new_rejects_a_bad_name_and_an_existing_directory() -> TestResult {
    let dir = scratch("new_bad_name");
    let result = run(loadwit().arg("new").arg(dir.join("9lives")));
    assert_eq!(result.code, 104, "{result}");
    assert!(
        result.stderr.contains("not a valid project `NAME`"),
        "{result}"
    );

    let result = run(loadwit().arg("new").arg(&dir));
    assert_eq!(result.code, 104, "{result}");
    assert!(result.stderr.contains("already exists"), "{result}");
    Ok(())
}

/// The guest SDKs besides Rust's: a label, the language, and the
/// `loadwit build` arguments; Python, and JavaScript on each engine.
const GUEST_SDKS: [(&str, &str, &[&str]); 3] = [
    ("python", "python", &[]),
    ("js", "js", &["--js-engine", "spidermonkey"]),
    ("qjs", "js", &["--js-engine", "quickjs"]),
];

/// A scenario in `lang` that, per iteration, adds 2 to a counter and
/// records a 10 ms time trend and passes a check inside group `checkout`,
/// and records a rate that passes on even iterations.
fn metrics_scenario(lang: &str) -> (&'static str, String) {
    match lang {
        "python" => (
            "main.py",
            r#"import loadwit
from loadwit import Counter, Rate, Trend, check, group, iteration

orders = Counter("orders")
cart = Trend("cart_time", time=True)
even = Rate("even")


def default(data):
    with group("checkout"):
        orders.add(2, {"kind": "guest"})
        cart.add(10)
        check(1, {"in checkout": lambda v: v == 1})
    even.add(iteration() % 2 == 0)


WitWorld = loadwit.export(__name__)
"#
            .to_owned(),
        ),
        _ => (
            "main.js",
            r#"import { Counter, Rate, Trend, check, group, exec } from "loadwit";

const orders = new Counter("orders");
const cart = new Trend("cart_time", true);
const even = new Rate("even");

export default function () {
  group("checkout", () => {
    orders.add(2, { kind: "guest" });
    cart.add(10);
    check(1, { "in checkout": (v) => v === 1 });
  });
  even.add(exec.vu.iterationInScenario % 2 === 0);
}
"#
            .to_owned(),
        ),
    }
}

#[test]
fn custom_metrics_and_groups_work_in_python_and_javascript() -> TestResult {
    for (label, lang, engine) in GUEST_SDKS {
        let dir = scratch(&format!("metrics_{label}"));
        let (file, source) = metrics_scenario(lang);
        std::fs::write(dir.join(file), source)?;
        let wasm = build_with(&dir, &dir.join("metrics.wasm"), engine);

        let export = dir.join("summary.json");
        let result = run(loadwit()
            .arg("run")
            .arg(&wasm)
            .args(["--vus", "2", "--iterations", "10"])
            .arg("--summary-export")
            .arg(&export));
        assert_eq!(result.code, 0, "{label}: {result}");

        let json = read_json(&export);
        assert_eq!(number(&json, "/metrics/orders/count"), 20.0, "{label}");
        assert_eq!(number(&json, "/metrics/cart_time/avg"), 10.0, "{label}");
        assert_eq!(number(&json, "/metrics/cart_time/max"), 10.0, "{label}");
        assert!(
            number(&json, "/metrics/group_duration/max") > 0.0,
            "{label}"
        );
        let even = number(&json, "/metrics/even/passes");
        let odd = number(&json, "/metrics/even/fails");
        assert_eq!(even + odd, 10.0, "{label}");
        assert!(even >= 4.0 && odd >= 4.0, "{label}: {even} even, {odd} odd");
        let in_group = "/root_group/groups/checkout/checks/in checkout/passes";
        assert_eq!(number(&json, in_group), 10.0, "{label}");
    }
    Ok(())
}

/// Checks, per iteration, of the guest API as each SDK wraps it: setup
/// data decoded once, every variable at once, a plain-number iteration,
/// the three body modes, a method in any case, and a refused connection
/// as a status-0 response.
const API_CHECKS: [&str; 9] = [
    "setup data arrives",
    "setup data decoded once",
    "env lists every variable",
    "iteration is a number",
    "text body is a string",
    "binary body is bytes",
    "discarded body is empty",
    "method in any case",
    "no response has an error",
];

fn api_scenario(lang: &str) -> (&'static str, String) {
    match lang {
        "python" => (
            "main.py",
            r#"import loadwit
from loadwit import check, env, env_all, http, iteration


def setup():
    return {"token": "abc", "n": 3}


def default(data):
    check(data, {
        "setup data arrives": lambda d: d == {"token": "abc", "n": 3},
        "setup data decoded once": lambda d: d is loadwit.setup_data(),
    })
    check(env_all(), {
        "env lists every variable":
            lambda e: sorted(e) == ["BASE_URL", "COLOR", "SIZE"] and e["COLOR"] == "red",
    })
    check(iteration(), {"iteration is a number": lambda i: isinstance(i, int) and i >= 0})

    url = env("BASE_URL") + "/api/catalog/categories"
    text = http.get(url, name="text")
    check(text, {"text body is a string":
                 lambda r: isinstance(r.text, str) and len(r.json()["categories"]) == 8})
    binary = http.get(url, name="binary", response_type="binary")
    check(binary, {"binary body is bytes":
                   lambda r: isinstance(r.body, bytes) and r.body == text.text.encode()})
    none = http.get(url, name="none", response_type="none")
    check(none, {"discarded body is empty": lambda r: r.status == 200 and r.text == ""})
    lower = http.request("get", url, name="lower")
    check(lower, {"method in any case": lambda r: r.status == 200})
    refused = http.get("http://127.0.0.1:1/", name="refused")
    check(refused, {"no response has an error":
                    lambda r: r.status == 0 and r.error.kind == "connection-refused"})


WitWorld = loadwit.export(__name__)
"#
            .to_owned(),
        ),
        _ => (
            "main.js",
            r#"import { __ENV, check, env, exec, http, setupData } from "loadwit";

export function setup() {
  return { token: "abc", n: 3 };
}

export default function (data) {
  check(data, {
    "setup data arrives": (d) => d.token === "abc" && d.n === 3,
    "setup data decoded once": (d) => d === setupData(),
  });
  check(__ENV, {
    "env lists every variable": (e) =>
      Object.keys(e).sort().join(",") === "BASE_URL,COLOR,SIZE" && e.COLOR === "red",
  });
  check(exec.vu.iterationInScenario, {
    "iteration is a number": (i) => typeof i === "number" && i + 1 > i,
  });

  const url = `${env("BASE_URL")}/api/catalog/categories`;
  const text = http.get(url, { name: "text" });
  check(text, {
    "text body is a string": (r) =>
      typeof r.body === "string" && r.json().categories.length === 8,
  });
  const binary = http.get(url, { name: "binary", responseType: "binary" });
  check(binary, {
    "binary body is bytes": (r) =>
      r.body instanceof Uint8Array && r.body.length === text.body.length,
  });
  const none = http.get(url, { name: "none", responseType: "none" });
  check(none, { "discarded body is empty": (r) => r.status === 200 && r.body === null });
  const lower = http.request("get", url, undefined, { name: "lower" });
  check(lower, { "method in any case": (r) => r.status === 200 });
  const refused = http.get("http://127.0.0.1:1/", { name: "refused" });
  check(refused, {
    "no response has an error": (r) => r.status === 0 && r.error.kind === "connection-refused",
  });
}
"#
            .to_owned(),
        ),
    }
}

#[test]
fn guest_api_reads_the_same_in_python_and_both_javascript_engines() -> TestResult {
    let shop = Shop::start(ShopConfig::default());
    for (label, lang, engine) in GUEST_SDKS {
        let dir = scratch(&format!("api_{label}"));
        let (file, source) = api_scenario(lang);
        std::fs::write(dir.join(file), source)?;
        let wasm = build_with(&dir, &dir.join("api.wasm"), engine);

        let export = dir.join("summary.json");
        let result = run(loadwit()
            .arg("run")
            .arg(&wasm)
            .args(["--vus", "2", "--iterations", "4"])
            .arg("--summary-export")
            .arg(&export)
            .args(["-e", &format!("BASE_URL={}", shop.url())])
            .args(["-e", "COLOR=red", "-e", "SIZE=xl"]));
        assert_eq!(result.code, 0, "{label}: {result}");

        let json = read_json(&export);
        for name in API_CHECKS {
            let passes = format!("/root_group/checks/{name}/passes");
            assert_eq!(number(&json, &passes), 4.0, "{label}: `{name}`");
        }
        assert_eq!(number(&json, "/metrics/checks/fails"), 0.0, "{label}");
        // Five requests an iteration, the refused one included.
        assert_eq!(number(&json, "/metrics/http_reqs/count"), 20.0, "{label}");
    }
    assert_eq!(shop.shop.stats().total(), 3 * 4 * 4);
    Ok(())
}
