//! `--out csv=FILE`: every sample as a CSV row, in k6's column layout.
//!
//! System tags have their own columns; other tags go to `extra_tags` as
//! `key=value&key=value`. `timestamp` is whole Unix seconds, as in k6.

use std::io::Write;
use std::time::UNIX_EPOCH;

use loadwit_metrics::{Stamped, TagSet};

use super::{SampleWriter, expected_response};

/// k6's columns, in its order.
/// The columns before the tag columns, and after them: with
/// [`TAG_COLUMNS`] between, k6's CSV header.
const LEADING_COLUMNS: [&str; 3] = ["metric_name", "timestamp", "metric_value"];
const TRAILING_COLUMNS: [&str; 2] = ["extra_tags", "metadata"];

/// The tag columns between `metric_value` and `extra_tags`.
const TAG_COLUMNS: [&str; 14] = [
    "check",
    "error",
    "error_code",
    "expected_response",
    "group",
    "method",
    "name",
    "proto",
    "scenario",
    "service",
    "status",
    "subproto",
    "tls_version",
    "url",
];

/// The CSV writer.
pub struct Csv<W: Write> {
    out: csv::Writer<W>,
}

impl<W: Write> Csv<W> {
    /// Writes the header to `out`.
    ///
    /// # Errors
    ///
    /// Those of `out`.
    pub fn new(out: W) -> anyhow::Result<Self> {
        let mut out = csv::WriterBuilder::new().from_writer(out);
        out.write_record(
            LEADING_COLUMNS
                .iter()
                .chain(&TAG_COLUMNS)
                .chain(&TRAILING_COLUMNS),
        )?;
        Ok(Csv { out })
    }
}

fn extra_tags(tags: &TagSet) -> String {
    let extra: Vec<String> = tags
        .iter()
        .filter(|(key, _)| !TAG_COLUMNS.contains(key))
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    extra.join("&")
}

impl<W: Write + Send> SampleWriter for Csv<W> {
    fn write(&mut self, samples: &[Stamped]) -> anyhow::Result<()> {
        for stamped in samples {
            let sample = &stamped.sample;
            let tags = sample.tags();
            let seconds = stamped
                .time
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                .to_string();
            let expected = expected_response(sample);
            let columns: Vec<&str> = TAG_COLUMNS
                .iter()
                .map(|&column| match (column, expected) {
                    ("expected_response", Some(value)) => value,
                    _ => tags.get(column).unwrap_or(""),
                })
                .collect();
            let extra = extra_tags(tags);

            let mut result = Ok(());
            sample.for_each_point(|point| {
                if result.is_err() {
                    return;
                }
                let value = point.value.to_string();
                let head = [point.metric, seconds.as_str(), value.as_str()];
                let tail = [extra.as_str(), ""];
                let row = head.iter().chain(&columns).chain(&tail);
                result = self.out.write_record(row);
            });
            result?;
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// k6's CSV header, column for column, so tools made for k6 read it.
    #[test]
    fn header_follows_k6_layout() -> anyhow::Result<()> {
        let mut bytes = Vec::new();
        let mut csv = Csv::new(&mut bytes)?;
        csv.finish()?;
        drop(csv);
        assert_eq!(
            String::from_utf8(bytes)?,
            "metric_name,timestamp,metric_value,check,error,error_code,\
             expected_response,group,method,name,proto,scenario,service,status,\
             subproto,tls_version,url,extra_tags,metadata\n"
        );
        Ok(())
    }
}
