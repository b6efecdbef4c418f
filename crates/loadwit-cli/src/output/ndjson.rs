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
use std::time::SystemTime;

use loadwit_metrics::{Point, Stamped, TagSet, ValueUnit};
use serde_json::{Map, Value, json};

use super::{SampleWriter, expected_response};

/// The NDJSON writer.
pub struct Ndjson<W: Write> {
    out: W,
    defined: HashSet<String>,
    line: Vec<u8>,
}

impl<W: Write> Ndjson<W> {
    /// Writes to `out`, which should be buffered.
    pub fn new(out: W) -> Self {
        Ndjson {
            out,
            defined: HashSet::new(),
            line: Vec::with_capacity(256),
        }
    }

    fn point(&mut self, time: SystemTime, tags: &Value, point: Point<'_>) -> anyhow::Result<()> {
        if !self.defined.contains(point.metric) {
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
            self.write_line(&definition)?;
        }
        let line = json!({
            "type": "Point",
            "metric": point.metric,
            "data": {
                "time": humantime::format_rfc3339_micros(time).to_string(),
                "value": point.value,
                "tags": tags,
            },
        });
        self.write_line(&line)
    }

    fn write_line(&mut self, value: &Value) -> anyhow::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        Ok(())
    }
}

fn tags_json(tags: &TagSet, extra: Option<&str>) -> Value {
    let mut map: Map<String, Value> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(v)))
        .collect();
    if let Some(expected) = extra {
        map.insert("expected_response".into(), expected.into());
    }
    Value::Object(map)
}

impl<W: Write + Send> SampleWriter for Ndjson<W> {
    fn write(&mut self, samples: &[Stamped]) -> anyhow::Result<()> {
        for stamped in samples {
            let sample = &stamped.sample;
            let tags = tags_json(sample.tags(), expected_response(sample));
            let mut result = Ok(());
            sample.for_each_point(|point| {
                if result.is_ok() {
                    result = self.point(stamped.time, &tags, point);
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
