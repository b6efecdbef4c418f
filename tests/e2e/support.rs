//! What every end-to-end test needs: built guest components, a demo shop
//! on 127.0.0.1, and the `loadwit` binary run as a real process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use loadwit_shop::{RunningShop, ShopConfig};
use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory the guest components build into: beside the host's
/// target directory, so cargo's lock on the host build is not contended.
pub fn guest_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    // target/<profile>/deps/e2e-<hash>
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in a target directory");
    target.join("wasm-guests")
}

/// Builds `guest-examples` once per test process and returns the path of
/// the component named `name` (its crate name, with underscores).
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target_dir = guest_target_dir();
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(root().join("guest-examples/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target_dir)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building guest-examples failed; is the target installed? \
             run `rustup target add wasm32-wasip2`"
        );
        target_dir.join("wasm32-wasip2/release")
    });
    dir.join(format!("{name}.wasm"))
}

/// A demo shop on its own runtime, alive as long as this value.
pub struct Shop {
    pub shop: RunningShop,
    _runtime: tokio::runtime::Runtime,
}

impl Shop {
    pub fn start(config: ShopConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the shop");
        let shop = runtime
            .block_on(loadwit_shop::spawn(config))
            .expect("the shop starts");
        Self {
            shop,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        self.shop.base_url()
    }
}

/// A finished `loadwit` process.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A `loadwit` command with caching pointed at the test's target dir.
pub fn loadwit() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loadwit"));
    command.env("LOADWIT_CACHE_DIR", guest_target_dir().join("cache"));
    command.env_remove("LOADWIT_LOG");
    command
}

pub fn run(command: &mut Command) -> Run {
    Run::from(command.output().expect("loadwit starts"))
}

/// A scratch directory unique to one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = guest_target_dir().join("scratch").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the JSON summary was written");
    serde_json::from_str(&text).expect("the JSON summary parses")
}

/// A number from the JSON summary, by JSON pointer.
pub fn number(json: &Value, pointer: &str) -> f64 {
    json.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("`{pointer}` is missing from the summary: {json:#}"))
}

/// `loadwit run WASM --config CONFIG --summary-export EXPORT` against
/// `shop` with no think time, plus `extra` arguments.
pub fn run_against_shop(
    wasm: &Path,
    shop: &Shop,
    config: &Path,
    export: &Path,
    extra: &[&str],
) -> Run {
    run(loadwit()
        .arg("run")
        .arg(wasm)
        .arg("--config")
        .arg(config)
        .arg("--summary-export")
        .arg(export)
        .args(["-e", &format!("BASE_URL={}", shop.url())])
        .args(["-e", "THINK_MIN=0", "-e", "THINK_MAX=0"])
        .args(extra))
}
