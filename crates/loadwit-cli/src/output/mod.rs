//! Result files: every sample as NDJSON or CSV (`--out`), the mergeable
//! result of a run (`--out result=FILE`), and the JUnit report
//! (`--junit`).
//!
//! Sample outputs are written on the aggregator thread, from the batches
//! VUs already send there, through a buffered writer: a VU never waits on
//! a file, and memory held for an output is one buffer.

pub mod csv;
pub mod junit;
pub mod ndjson;
pub mod result;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use loadwit_metrics::{Sample, Stamped};

/// Bytes buffered per output before a write to the file.
const BUFFER: usize = 256 * 1024;

/// One `--out` destination, as `KIND=FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutSpec {
    /// `json=FILE`: k6's NDJSON layout.
    Json(PathBuf),
    /// `csv=FILE`: k6's CSV layout.
    Csv(PathBuf),
    /// `result=FILE`: the mergeable result, written once the run ends.
    Result(PathBuf),
}

impl OutSpec {
    /// Parses `json=FILE`, `csv=FILE` or `result=FILE`.
    ///
    /// # Errors
    ///
    /// A one-line message naming `--out` for anything else.
    pub fn parse(text: &str) -> Result<OutSpec, String> {
        match text.split_once('=') {
            Some(("json", path)) if !path.is_empty() => Ok(OutSpec::Json(path.into())),
            Some(("csv", path)) if !path.is_empty() => Ok(OutSpec::Csv(path.into())),
            Some(("result", path)) if !path.is_empty() => Ok(OutSpec::Result(path.into())),
            _ => Err(format!(
                "`{text}` is not an output this version writes; use `json=FILE`, `csv=FILE` \
                 or `result=FILE`"
            )),
        }
    }

    /// Opens the file and the writer for it, for outputs that write
    /// every sample; `None` for the result file, written at the end.
    ///
    /// # Errors
    ///
    /// When the file cannot be created.
    pub fn open(&self) -> anyhow::Result<Option<Box<dyn SampleWriter>>> {
        Ok(match self {
            OutSpec::Json(path) => Some(Box::new(ndjson::Ndjson::new(create(path)?))),
            OutSpec::Csv(path) => Some(Box::new(csv::Csv::new(create(path)?)?)),
            OutSpec::Result(_) => None,
        })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        match self {
            OutSpec::Json(path) | OutSpec::Csv(path) | OutSpec::Result(path) => path,
        }
    }
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    let file = File::create(path)
        .with_context(|| format!("cannot create the `--out` file `{}`", path.display()))?;
    Ok(BufWriter::with_capacity(BUFFER, file))
}

/// A file every sample is written to, one k6 metric point at a time.
pub trait SampleWriter: Send {
    /// Writes every point of `samples`.
    ///
    /// # Errors
    ///
    /// Those of the file.
    fn write(&mut self, samples: &[Stamped]) -> anyhow::Result<()>;

    /// Writes what is buffered.
    ///
    /// # Errors
    ///
    /// Those of the file.
    fn finish(&mut self) -> anyhow::Result<()>;
}

/// The `expected_response` tag k6 puts on HTTP points, which the engine
/// leaves to the aggregate.
fn expected_response(sample: &Sample) -> Option<&'static str> {
    match sample {
        Sample::Http { failed, .. } if sample.tags().get("expected_response").is_none() => {
            Some(if *failed { "false" } else { "true" })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_specs_parse_or_name_the_flag() {
        assert_eq!(
            OutSpec::parse("json=a.ndjson"),
            Ok(OutSpec::Json("a.ndjson".into()))
        );
        assert_eq!(
            OutSpec::parse("csv=b.csv"),
            Ok(OutSpec::Csv("b.csv".into()))
        );
        assert_eq!(
            OutSpec::parse("result=c.result"),
            Ok(OutSpec::Result("c.result".into()))
        );
        for bad in ["influxdb=x", "json=", "json", "result="] {
            let err = OutSpec::parse(bad).unwrap_err();
            assert!(err.contains("json=FILE"), "{err}");
        }
    }
}
