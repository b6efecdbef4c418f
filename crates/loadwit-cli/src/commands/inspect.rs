//! `loadwit inspect`: what a component is, without running it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use loadwit_engine::{Test, WIT_PACKAGE};
use loadwit_metrics::format_bytes;
use wasmparser::{ComponentExternalKind, Parser, Payload};

use crate::banner;
use crate::exit::ExitCode;

/// Prints the WIT world a component targets, its imports and exports,
/// its options and its size.
///
/// The options come from calling the component's `options` export in
/// the sandbox, as `loadwit run` does; nothing else runs.
///
/// Examples:
///
///   loadwit inspect shop_stress.wasm
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct InspectArgs {
    /// The component (`.wasm`) to inspect.
    file: PathBuf,
}

/// The names a component's outer layer imports and exports.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Interface {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

pub fn run(args: InspectArgs) -> ExitCode {
    match inspect(&args.file) {
        Ok(()) => ExitCode::Success,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::ScenarioFailed
        }
    }
}

fn inspect(path: &Path) -> anyhow::Result<()> {
    let wasm = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let interface = Interface::of(&wasm)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let test = runtime.block_on(Test::load(path, super::build::cache_dir()))?;
    let plan = test.options().plan()?;

    let mut out = io::stdout().lock();
    banner::print(&mut out, path, &plan)?;
    writeln!(out, "  size     {}", format_bytes(wasm.len() as u64))?;
    writeln!(out, "  world    {}", interface.world())?;
    writeln!(out, "  exports  {}", interface.exports.join(", "))?;
    writeln!(out, "  imports  {}", interface.host_imports().join(", "))?;
    let wasi = interface.wasi_packages();
    if !wasi.is_empty() {
        writeln!(out, "  wasi     {}", wasi.join(", "))?;
    }
    if let Some(thresholds) = &test.options().thresholds {
        writeln!(out, "  thresholds {thresholds}")?;
    }
    Ok(())
}

impl Interface {
    /// Reads the top-level import and export names of a component.
    ///
    /// # Errors
    ///
    /// When `wasm` is not a component or does not parse.
    pub fn of(wasm: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            Parser::is_component(wasm),
            "not a WebAssembly component; build it with `loadwit build`"
        );
        let mut interface = Self::default();
        // Nested modules and components have sections of their own; only
        // the outermost component's count.
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.context("the component does not parse")? {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentImportSection(section) if depth == 0 => {
                    for import in section {
                        interface.imports.push(import?.name.name.to_owned());
                    }
                }
                Payload::ComponentExportSection(section) if depth == 0 => {
                    for export in section {
                        let export = export?;
                        // Toolchains export helper instances of their own;
                        // only functions and WIT interfaces are the world's.
                        let instance = export.kind == ComponentExternalKind::Instance
                            && export.name.name.contains(':');
                        if export.kind == ComponentExternalKind::Func || instance {
                            interface.exports.push(export.name.name.to_owned());
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(interface)
    }

    /// The `loadwit:scenario` interfaces imported, without the package.
    pub fn host_imports(&self) -> Vec<&str> {
        let prefix = format!("{WIT_PACKAGE}/");
        self.imports
            .iter()
            .filter_map(|name| name.strip_prefix(&prefix))
            .collect()
    }

    /// The WASI packages imported, as `wasi:clocks@0.2.9`, each once.
    pub fn wasi_packages(&self) -> Vec<String> {
        let mut packages: Vec<String> = self
            .imports
            .iter()
            .filter(|name| name.starts_with("wasi:"))
            .map(|name| match (name.split_once('/'), name.split_once('@')) {
                (Some((package, _)), Some((_, version))) => format!("{package}@{version}"),
                _ => name.clone(),
            })
            .collect();
        packages.sort();
        packages.dedup();
        packages
    }

    /// The `loadwit:scenario` version the component imports, as
    /// `loadwit:scenario@0.1.0`, or a note that it imports none.
    pub fn world(&self) -> String {
        let prefix = format!("{WIT_PACKAGE}/");
        self.imports
            .iter()
            .filter_map(|name| name.strip_prefix(&prefix))
            .find_map(|rest| rest.split_once('@'))
            .map(|(_, version)| format!("{WIT_PACKAGE}@{version}"))
            .unwrap_or_else(|| format!("none (imports nothing from {WIT_PACKAGE})"))
    }
}
