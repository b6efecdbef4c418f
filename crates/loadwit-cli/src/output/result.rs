//! `--out result=FILE`: a run's mergeable result, which `loadwit merge`
//! combines with the results of the other segments of a distributed run.
//!
//! The file is one line of JSON, the [`ResultHeader`], then a newline,
//! then the run's aggregate as [`Aggregate::encode`] writes it (binary,
//! to the end of the file). The header says what ran and how it ended;
//! the aggregate holds every series, HDR histograms included, so merged
//! percentiles are those of all the samples together.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use anyhow::Context;
use loadwit_metrics::{AGGREGATE_FORMAT_VERSION, Aggregate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What the first line of a result file says `format` is.
pub const FORMAT: &str = "loadwit-result";

/// The header layout's version; a reader refuses others.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of a result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultHeader {
    /// Always [`FORMAT`].
    pub format: String,
    /// The header layout's version, [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The version of the aggregate's encoding after the header.
    pub aggregate_format_version: u16,
    /// The loadwit version that ran the test.
    pub loadwit_version: String,
    /// The component file's name.
    pub component: String,
    /// The SHA-256 of the component file, in hex: results of different
    /// components never merge.
    pub component_sha256: String,
    /// This runner's segment, as k6 writes it (`1/3:2/3`; `0:1` for a
    /// whole run).
    pub segment: String,
    /// The segment sequence of the distributed run (`0,1/3,2/3,1`).
    pub sequence: String,
    /// What this runner ran: one line per scenario, with its share of
    /// the VUs and iterations, as `--dry-run` shows it.
    pub plan: Vec<String>,
    /// The run's thresholds, in the CLI form `METRIC: EXPRESSION`.
    pub thresholds: Vec<String>,
    /// The summary options in effect (`summaryTrendStats`,
    /// `summaryTimeUnit`), as the options wrote them.
    pub summary_options: BTreeMap<String, Value>,
    /// How long the run took, in milliseconds.
    pub elapsed_ms: f64,
    /// The most VUs allocated at once.
    pub vus_max: u64,
    /// When the run started and ended, RFC 3339 in UTC.
    pub started_at: String,
    /// See `started_at`.
    pub ended_at: String,
    /// Why the run ended early (`stopped`, `threshold-abort`,
    /// `scenario-abort`), or `null` when it ran its course.
    pub stop_reason: Option<String>,
    /// The exit code of the run.
    pub exit_code: u8,
}

/// Why a run ended before its plan did, as a header writes it.
pub mod stop_reason {
    /// Stopped from outside (Ctrl-C, SIGTERM).
    pub const STOPPED: &str = "stopped";
    /// A threshold with `abortOnFail` failed.
    pub const THRESHOLD_ABORT: &str = "threshold-abort";
    /// The scenario aborted the test.
    pub const SCENARIO_ABORT: &str = "scenario-abort";
}

/// A result file read back.
#[derive(Debug)]
pub struct RunResult {
    /// The header.
    pub header: ResultHeader,
    /// The run's aggregate.
    pub aggregate: Aggregate,
}

impl ResultHeader {
    /// A header for a run of `component`; the caller fills in the rest.
    ///
    /// # Errors
    ///
    /// When the component file cannot be read to hash it.
    pub fn for_component(component: &Path) -> anyhow::Result<ResultHeader> {
        let bytes = fs::read(component)
            .with_context(|| format!("cannot read `{}` to hash it", component.display()))?;
        let name = component
            .file_name()
            .unwrap_or(component.as_os_str())
            .to_string_lossy()
            .into_owned();
        Ok(ResultHeader {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            aggregate_format_version: AGGREGATE_FORMAT_VERSION,
            loadwit_version: env!("CARGO_PKG_VERSION").into(),
            component: name,
            component_sha256: sha256_hex(&bytes),
            segment: "0:1".into(),
            sequence: "0,1".into(),
            plan: Vec::new(),
            thresholds: Vec::new(),
            summary_options: BTreeMap::new(),
            elapsed_ms: 0.0,
            vus_max: 0,
            started_at: String::new(),
            ended_at: String::new(),
            stop_reason: None,
            exit_code: 0,
        })
    }
}

/// Writes the header and aggregate to `path`, whole or not at all: the
/// bytes go to a file beside it first, renamed into place once written,
/// so a merge waiting for the file never reads half of it.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write(path: &Path, header: &ResultHeader, aggregate: &Aggregate) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec(header)?;
    bytes.push(b'\n');
    bytes.extend(aggregate.encode());
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let context = || format!("cannot write the result file `{}`", path.display());
    fs::write(&partial, bytes).with_context(context)?;
    fs::rename(&partial, path).with_context(context)
}

/// Reads a result file.
///
/// # Errors
///
/// When the file cannot be read, is no result file, or comes from an
/// incompatible version; the message names the file.
pub fn read(path: &Path) -> anyhow::Result<RunResult> {
    let bytes = fs::read(path)
        .with_context(|| format!("cannot read the result file `{}`", path.display()))?;
    parse(&bytes).with_context(|| format!("`{}`", path.display()))
}

fn parse(bytes: &[u8]) -> anyhow::Result<RunResult> {
    let not_result =
        || anyhow::anyhow!("is not a loadwit result file; write one with `--out result=FILE`");
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(not_result)?;
    let header: Value = serde_json::from_slice(&bytes[..newline]).map_err(|_| not_result())?;
    if header.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(not_result());
    }
    let version = header.get("format_version").and_then(Value::as_u64);
    if version != Some(u64::from(FORMAT_VERSION)) {
        anyhow::bail!(
            "is a result file of format version {}, this loadwit reads version {FORMAT_VERSION}; \
             merge with the loadwit version that wrote it",
            version.map_or("unknown".into(), |v| v.to_string())
        );
    }
    let header: ResultHeader =
        serde_json::from_value(header).context("has a header with missing or wrong fields")?;
    let aggregate = Aggregate::decode(&bytes[newline + 1..])?;
    Ok(RunResult { header, aggregate })
}

/// Now, in RFC 3339 (UTC, to the millisecond).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use loadwit_metrics::{HttpTimings, Sample, TagSet};

    use super::*;

    #[test]
    fn result_files_read_back_what_was_written() {
        let dir = std::env::temp_dir().join(format!("loadwit-result-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let component = dir.join("scenario.wasm");
        fs::write(&component, b"\0asm not really").unwrap();
        let mut header = ResultHeader::for_component(&component).unwrap();
        header.segment = "1/3:2/3".into();
        header.thresholds = vec!["http_reqs: count>10".into()];
        let mut aggregate = Aggregate::new();
        aggregate.add(&Sample::Http {
            tags: TagSet::new([("name", "/")]),
            timings: HttpTimings {
                duration: Duration::from_millis(3),
                ..HttpTimings::default()
            },
            failed: false,
            sent: 1,
            received: 2,
        });
        let path = dir.join("part.result");
        write(&path, &header, &aggregate).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.header, header);
        assert_eq!(back.header.component_sha256.len(), 64);
        assert_eq!(back.aggregate.encode(), aggregate.encode());

        fs::write(&path, b"{\"format\": \"something-else\"}\n").unwrap();
        let err = format!("{:#}", read(&path).unwrap_err());
        assert!(err.contains("not a loadwit result file"), "{err}");
        fs::remove_dir_all(&dir).ok();
    }
}
