//! `--out json=FILE`: every sample as newline-delimited JSON, in k6's
//! layout, so tools that read k6's JSON output read ours.
//!
//! A metric's first point is preceded by its definition:
//!
//! ```text
//! {"type":"Metric","metric":"http_reqs","data":{"name":"http_reqs","type":"counter","contains":"default","thresholds":[],"submetrics":null}}
//! {"type":"Point","metric":"http_reqs","data":{"time":"2026-12-03T18:30:00.123456Z","value":1,"tags":{"method":"GET","name":"fast","status":"200"}}}
//! ```

use std::collections::HashSet;
use std::io::Write;

use loadwit_metrics::{Point, Stamped, TagSet, ValueUnit};
use serde_json::json;

use super::{SampleWriter, expected_response};

/// The NDJSON writer.
///
/// Lines are written piecewise, not built as JSON values: one request is
/// eleven lines, and a busy run makes hundreds of thousands a second.
/// Each sample's time and tags are rendered once and shared by its points.
pub struct Ndjson<W: Write> {
    out: W,
    defined: HashSet<String>,
    time: String,
    tags: Vec<u8>,
}

impl<W: Write> Ndjson<W> {
    /// Writes to `out`, which should be buffered.
    pub fn new(out: W) -> Self {
        Ndjson {
            out,
            defined: HashSet::new(),
            time: String::with_capacity(32),
            tags: Vec::with_capacity(256),
        }
    }

    fn define(&mut self, point: &Point<'_>) -> anyhow::Result<()> {
        if self.defined.contains(point.metric) {
            return Ok(());
        }
        self.defined.insert(point.metric.to_string());
        let contains = match point.unit {
            ValueUnit::Time => "time",
            ValueUnit::Data => "data",
            ValueUnit::Plain => "default",
        };
        let definition = json!({
            "type": "Metric",
            "metric": point.metric,
            "data": {
                "name": point.metric,
                "type": point.kind.name(),
                "contains": contains,
                "thresholds": [],
                "submetrics": null,
            },
        });
        serde_json::to_writer(&mut self.out, &definition)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn point(&mut self, point: Point<'_>) -> anyhow::Result<()> {
        self.define(&point)?;
        let out = &mut self.out;
        out.write_all(b"{\"type\":\"Point\",\"metric\":")?;
        serde_json::to_writer(&mut *out, point.metric)?;
        out.write_all(b",\"data\":{\"time\":\"")?;
        out.write_all(self.time.as_bytes())?;
        out.write_all(b"\",\"value\":")?;
        if point.value.is_finite() {
            write!(out, "{}", point.value)?;
        } else {
            out.write_all(b"null")?;
        }
        out.write_all(b",\"tags\":")?;
        out.write_all(&self.tags)?;
        out.write_all(b"}}\n")?;
        Ok(())
    }

    /// Renders the sample's tags once, as a JSON object.
    fn render_tags(&mut self, tags: &TagSet, expected: Option<&str>) -> anyhow::Result<()> {
        let buffer = &mut self.tags;
        buffer.clear();
        buffer.push(b'{');
        let extra = expected.map(|value| ("expected_response", value));
        for (i, (key, value)) in tags.iter().chain(extra).enumerate() {
            if i > 0 {
                buffer.push(b',');
            }
            serde_json::to_writer(&mut *buffer, key)?;
            buffer.push(b':');
            serde_json::to_writer(&mut *buffer, value)?;
        }
        buffer.push(b'}');
        Ok(())
    }
}

impl<W: Write + Send> SampleWriter for Ndjson<W> {
    fn write(&mut self, samples: &[Stamped]) -> anyhow::Result<()> {
        use std::fmt::Write as _;
        for stamped in samples {
            let sample = &stamped.sample;
            self.render_tags(sample.tags(), expected_response(sample))?;
            self.time.clear();
            write!(
                self.time,
                "{}",
                humantime::format_rfc3339_micros(stamped.time)
            )?;
            let mut result = Ok(());
            sample.for_each_point(|point| {
                if result.is_ok() {
                    result = self.point(point);
                }
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
    use std::time::{Duration, UNIX_EPOCH};

    use loadwit_metrics::Sample;
    use serde_json::Value;

    use super::*;

    #[test]
    fn points_follow_k6_layout() -> anyhow::Result<()> {
        let mut out = Vec::new();
        let mut writer = Ndjson::new(&mut out);
        let sample = Sample::Check {
            tags: TagSet::new([("check", "ok")]),
            passed: true,
        };
        let time = UNIX_EPOCH + Duration::from_millis(1_500);
        writer.write(&[Stamped { time, sample }])?;
        writer.finish()?;
        drop(writer);

        let lines: Vec<Value> = String::from_utf8(out)?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["type"], "Metric");
        assert_eq!(lines[0]["data"]["type"], "rate");
        assert_eq!(lines[1]["type"], "Point");
        assert_eq!(lines[1]["metric"], "checks");
        assert_eq!(lines[1]["data"]["value"], 1.0);
        assert_eq!(lines[1]["data"]["time"], "1970-01-01T00:00:01.500000Z");
        assert_eq!(lines[1]["data"]["tags"]["check"], "ok");
        Ok(())
    }
}
