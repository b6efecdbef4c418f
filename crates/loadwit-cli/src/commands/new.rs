//! `loadwit new`: scaffold a scenario project that builds and runs
//! against the demo shop as it is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::build::{Lang, home};
use crate::exit::ExitCode;

/// Creates a scenario project in a new directory.
///
/// The project browses the demo shop's catalog (`BASE_URL`, by default
/// `http://127.0.0.1:3000`), ready for `loadwit build` and `loadwit run`.
///
/// Examples:
///
///   loadwit new checkout --lang python
///   loadwit build checkout
///   loadwit run checkout/checkout.wasm -e BASE_URL=http://127.0.0.1:3000
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct NewArgs {
    /// The project's name, also its directory: letters, digits, `-`, `_`.
    name: PathBuf,

    /// The scenario's language.
    #[arg(short, long, value_enum, default_value = "rust")]
    lang: Lang,
}

/// One template file: where it goes in the project, and its text.
type Template = (&'static str, &'static str);

const RUST: &[Template] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs"),
    ),
];
const PYTHON: &[Template] = &[("main.py", include_str!("../../templates/python/main.py"))];
const JS: &[Template] = &[
    ("main.js", include_str!("../../templates/js/main.js")),
    (
        "package.json",
        include_str!("../../templates/js/package.json"),
    ),
];

pub fn run(args: NewArgs) -> ExitCode {
    match create(&args.name, args.lang) {
        Ok(()) => {
            let dir = args.name.display();
            println!("created {dir}; build it with `loadwit build {dir}`");
            ExitCode::Success
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::InvalidConfig
        }
    }
}

fn create(dir: &Path, lang: Lang) -> anyhow::Result<()> {
    let name = project_name(dir)?;
    if dir.exists() {
        bail!("`{}` already exists; pick another name", dir.display());
    }
    let home = home();
    let templates = match lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
    };
    for (file, text) in templates {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap_or(dir))
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        let text = text
            .replace("{{name}}", &name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{home}}", &home.to_string_lossy());
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

/// The last component of `dir`, checked to be a valid crate name in
/// every language's tooling.
fn project_name(dir: &Path) -> anyhow::Result<String> {
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "`{name}` is not a valid project `NAME`; use letters, digits, `-` and `_`, \
             starting with a letter"
        );
    }
    Ok(name.to_lowercase())
}
