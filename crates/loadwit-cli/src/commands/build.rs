//! `loadwit build`: turn a scenario project into a component, whatever
//! its language.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;

use crate::exit::ExitCode;

/// Builds a scenario project into a `.wasm` component.
///
/// The language is detected from the project's files: `Cargo.toml` for
/// Rust (cargo, target `wasm32-wasip2`), `main.py` for Python
/// (componentize-py, from PyPI), `main.js` for JavaScript (componentize-js
/// or componentize-qjs, from npm, installed in the SDK's `sdk/js` with
/// `npm ci`). The SDKs and the WIT are read from `LOADWIT_HOME`, else
/// from the source tree this loadwit was built from.
///
/// JavaScript runs on SpiderMonkey unless `--js-engine quickjs` or the
/// project's `package.json` (`"loadwit": {"jsEngine": "quickjs"}`) picks
/// QuickJS: a component a seventh the size, a fifth of the memory per
/// VU, fewer built-ins. See docs/languages.md for measurements.
///
/// Examples:
///
///   # Build the project in the current directory into ./NAME.wasm
///   loadwit build .
///
///   # Build elsewhere
///   loadwit build my-scenario --out /tmp/scenario.wasm
///
///   # A JavaScript scenario on QuickJS
///   loadwit build my-scenario --js-engine quickjs
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct BuildArgs {
    /// The scenario project's directory.
    #[arg(default_value = ".")]
    dir: PathBuf,

    /// Where to write the component; `DIR/NAME.wasm` by default, NAME
    /// being the directory's name with `-` as `_`.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// The JavaScript engine of a JavaScript project; its `package.json`'s
    /// `loadwit.jsEngine` when absent, else `spidermonkey`.
    #[arg(long, value_enum, value_name = "ENGINE")]
    js_engine: Option<JsEngine>,
}

/// The engine a JavaScript scenario is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsEngine {
    /// SpiderMonkey, through componentize-js.
    Spidermonkey,
    /// QuickJS, through componentize-qjs.
    Quickjs,
}

impl JsEngine {
    fn name(self) -> &'static str {
        match self {
            JsEngine::Spidermonkey => "spidermonkey",
            JsEngine::Quickjs => "quickjs",
        }
    }

    /// The npm package that builds with this engine, under `node_modules`.
    fn package(self) -> &'static str {
        match self {
            JsEngine::Spidermonkey => "@bytecodealliance/componentize-js",
            JsEngine::Quickjs => "componentize-qjs",
        }
    }
}

/// A scenario project's language, as `loadwit new --lang` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

pub fn run(args: BuildArgs) -> ExitCode {
    match build(&args.dir, args.out.as_deref(), args.js_engine) {
        Ok(out) => {
            println!("built {}", out.display());
            ExitCode::Success
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::ScenarioFailed
        }
    }
}

/// Builds the project in `dir` and returns the component's path;
/// `js_engine` overrides a JavaScript project's own choice.
pub fn build(
    dir: &Path,
    out: Option<&Path>,
    js_engine: Option<JsEngine>,
) -> anyhow::Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot open the project directory `{}`", dir.display()))?;
    let lang = detect(&dir)?;
    let out = match out {
        Some(out) => std::path::absolute(out)?,
        None => dir.join(format!("{}.wasm", crate_name(&dir))),
    };
    match lang {
        Lang::Rust => build_rust(&dir, &out)?,
        Lang::Python => build_python(&dir, &out)?,
        Lang::Js => {
            let engine = match js_engine {
                Some(engine) => engine,
                None => project_js_engine(&dir)?,
            };
            build_js(&dir, &out, engine)?
        }
    }
    Ok(out)
}

/// The language of the project in `dir`, from the files it holds.
pub fn detect(dir: &Path) -> anyhow::Result<Lang> {
    let found = [
        ("Cargo.toml", Lang::Rust),
        ("main.py", Lang::Python),
        ("main.js", Lang::Js),
    ]
    .into_iter()
    .find(|(file, _)| dir.join(file).is_file());
    match found {
        Some((_, lang)) => Ok(lang),
        None => bail!(
            "`{}` holds no scenario project; expected `Cargo.toml`, `main.py` or `main.js` \
             (create one with `loadwit new NAME --lang rust|python|js`)",
            dir.display()
        ),
    }
}

/// The directory holding loadwit's WIT and SDKs: `LOADWIT_HOME`, else
/// the checkout this binary was built from. Resolved, so the paths that
/// messages and generated projects name read plainly.
pub fn home() -> PathBuf {
    let home = match std::env::var_os("LOADWIT_HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    };
    home.canonicalize().unwrap_or(home)
}

fn crate_name(dir: &Path) -> String {
    dir.file_name()
        .map(|name| name.to_string_lossy().replace('-', "_"))
        .unwrap_or_else(|| "scenario".into())
}

fn build_rust(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let output = tool(
        Command::new("cargo")
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .args(["--message-format", "json-render-diagnostics"])
            .arg("--manifest-path")
            .arg(dir.join("Cargo.toml"))
            .stderr(std::process::Stdio::inherit()),
        "cargo",
        "install Rust with rustup, then `rustup target add wasm32-wasip2`",
    )?;
    let stdout = String::from_utf8_lossy(&output);
    let artifact = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|file| file.as_str().map(PathBuf::from))
        .find(|file| file.extension().is_some_and(|ext| ext == "wasm"))
        .context("cargo built no `.wasm`; is the crate a `cdylib`?")?;
    std::fs::copy(&artifact, out).with_context(|| format!("cannot write `{}`", out.display()))?;
    Ok(())
}

fn build_python(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let home = home();
    tool(
        Command::new("componentize-py")
            .arg("--wit-path")
            .arg(home.join("wit"))
            .args(["--world", "scenario", "componentize", "main"])
            .arg("--python-path")
            .arg(dir)
            .arg("--python-path")
            .arg(home.join("sdk/python"))
            .arg("--output")
            .arg(out),
        "componentize-py",
        "install it from PyPI with `pip install componentize-py==0.25.1`",
    )?;
    Ok(())
}

/// The engine a JavaScript project's `package.json` asks for under
/// `loadwit.jsEngine`; SpiderMonkey when it names none.
fn project_js_engine(dir: &Path) -> anyhow::Result<JsEngine> {
    #[derive(serde::Deserialize)]
    struct Package {
        loadwit: Option<Settings>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Settings {
        js_engine: Option<JsEngine>,
    }

    let path = dir.join("package.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(JsEngine::Spidermonkey);
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", path.display()));
        }
    };
    let package: Package = serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not valid: `loadwit.jsEngine` must be \"spidermonkey\" or \"quickjs\"",
            path.display()
        )
    })?;
    let engine = package.loadwit.and_then(|settings| settings.js_engine);
    Ok(engine.unwrap_or(JsEngine::Spidermonkey))
}

fn build_js(dir: &Path, out: &Path, engine: JsEngine) -> anyhow::Result<()> {
    let sdk = home().join("sdk/js");
    if !sdk.join("node_modules").join(engine.package()).is_dir() {
        bail!(
            "{} is not installed in `{}`; run `npm ci` there",
            engine.package(),
            sdk.display()
        );
    }
    tool(
        Command::new("node")
            .arg(sdk.join("build.mjs"))
            .arg(dir.join("main.js"))
            .arg(out)
            .arg(home().join("wit"))
            .args(["--engine", engine.name()]),
        "node",
        "install Node.js 20 or later, then `npm ci` in loadwit's `sdk/js`",
    )?;
    Ok(())
}

/// Runs a toolchain command, passing its stderr through, and returns its
/// stdout; a missing tool is named with how to install it.
fn tool(command: &mut Command, name: &str, install: &str) -> anyhow::Result<Vec<u8>> {
    let output = match command.stderr(std::process::Stdio::inherit()).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bail!("`{name}` is not installed; {install}")
        }
        Err(error) => return Err(error).with_context(|| format!("cannot run `{name}`")),
    };
    if !output.status.success() {
        bail!(
            "`{name}` failed ({}); see its messages above",
            output.status
        );
    }
    Ok(output.stdout)
}

/// Where compiled components are cached: `LOADWIT_CACHE_DIR`, else the
/// user's cache directory. An empty `LOADWIT_CACHE_DIR` turns caching off.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LOADWIT_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("loadwit"))
}
