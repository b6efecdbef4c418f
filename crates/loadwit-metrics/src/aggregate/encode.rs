//! An aggregate as bytes and back, losslessly, so the runners of a
//! distributed run can hand their aggregates to one place to be merged.
//!
//! The bytes are a 4-byte magic (`LWAG`), a little-endian `u16` format
//! version, then the aggregate in postcard (a compact serde format). The
//! body mirrors the aggregate's fields as plain lists:
//!
//! - tag sets as `(key, value)` pairs; built-in metrics by their k6 name,
//!   so reordering [`Builtin`] never breaks old bytes;
//! - trends as the HDR histogram in its standard V2 encoding (the one
//!   other HDR libraries read) beside the exact count, extremes and sum;
//! - custom metrics with their kind and whether they measure time;
//! - the failure log's messages and overflow count, and the clock that
//!   orders check names and gauge readings.
//!
//! Decoding gives back an aggregate whose every metric, summary and merge
//! equal the original's.

use std::io::Cursor;
use std::sync::Arc;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

use super::Aggregate;
use super::custom::{CustomSeries, CustomValue};
use super::failures::FailureLog;
use super::series::{CheckSeries, GaugeSeries, HttpSeries, HttpStats, IterationSeries};
use crate::metric::{Builtin, CustomMetric, GROUP_DURATION, MetricKind, ValueUnit};
use crate::tags::TagSet;
use crate::trend::Trend;

/// The first bytes of an encoded aggregate.
const MAGIC: [u8; 4] = *b"LWAG";

/// The version of the encoding this build writes and reads. It changes
/// whenever the body's layout does.
pub const AGGREGATE_FORMAT_VERSION: u16 = 1;

/// Why bytes could not be decoded into an aggregate.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not start like an encoded aggregate.
    #[error("not an encoded loadwit aggregate (the magic bytes are missing)")]
    Magic,
    /// The bytes were written in a format version this build cannot read.
    #[error(
        "the aggregate is in format version {found}, this build reads version \
         {AGGREGATE_FORMAT_VERSION}; merge with the loadwit version that wrote it"
    )]
    Version {
        /// The version the bytes carry.
        found: u16,
    },
    /// The body is cut short or corrupt.
    #[error("the aggregate's body is corrupt or cut short: {0}")]
    Body(#[from] postcard::Error),
    /// A histogram inside does not decode.
    #[error("a histogram in the aggregate is corrupt: {0}")]
    Histogram(String),
    /// A metric inside is unknown to this build or contradicts itself.
    #[error("the aggregate names a metric this build cannot read: {0}")]
    Metric(String),
}

impl Aggregate {
    /// The aggregate as bytes that [`decode`](Aggregate::decode) reads
    /// back exactly; see the module docs for the layout.
    pub fn encode(&self) -> Vec<u8> {
        let wire = Wire::from(self);
        let mut bytes = Vec::from(MAGIC);
        bytes.extend(AGGREGATE_FORMAT_VERSION.to_le_bytes());
        postcard::to_extend(&wire, bytes).expect("writing into a Vec cannot fail")
    }

    /// Reads bytes that [`encode`](Aggregate::encode) wrote.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not an encoded aggregate, come
    /// from another format version, or are corrupt.
    pub fn decode(bytes: &[u8]) -> Result<Aggregate, DecodeError> {
        let body = bytes.strip_prefix(&MAGIC).ok_or(DecodeError::Magic)?;
        let (version, body) = body.split_at_checked(2).ok_or(DecodeError::Magic)?;
        let found = u16::from_le_bytes([version[0], version[1]]);
        if found != AGGREGATE_FORMAT_VERSION {
            return Err(DecodeError::Version { found });
        }
        let wire: Wire = postcard::from_bytes(body)?;
        wire.into_aggregate()
    }
}

type Tags = Vec<(String, String)>;

#[derive(Serialize, Deserialize)]
struct Wire {
    http: Vec<(Tags, Option<WireHttp>, Option<WireHttp>)>,
    checks: Vec<(Tags, WireCheck)>,
    iterations: Vec<(Tags, WireTrend, u64)>,
    gauges: Vec<(String, Vec<(Tags, WireGauge)>)>,
    counters: Vec<(String, Vec<(Tags, f64)>)>,
    trends: Vec<(String, Vec<(Tags, WireTrend)>)>,
    custom: Vec<WireCustom>,
    failures: (Vec<(String, u64)>, u64),
    clock: u64,
}

#[derive(Serialize, Deserialize)]
struct WireHttp {
    requests: u64,
    sent: u64,
    received: u64,
    /// blocked, connecting, tls_handshaking, sending, waiting, receiving,
    /// duration.
    trends: [WireTrend; 7],
}

#[derive(Serialize, Deserialize)]
struct WireCheck {
    passes: u64,
    total: u64,
    first_seen: u64,
}

#[derive(Serialize, Deserialize)]
struct WireGauge {
    last: f64,
    min: f64,
    max: f64,
    at: u64,
}

#[derive(Serialize, Deserialize)]
struct WireTrend {
    /// The histogram in HDR's V2 encoding.
    histogram: Vec<u8>,
    count: u64,
    min_ns: u64,
    max_ns: u64,
    sum_ns: u128,
}

#[derive(Serialize, Deserialize)]
struct WireCustom {
    name: String,
    kind: String,
    is_time: bool,
    series: Vec<(Tags, WireValue)>,
}

#[derive(Serialize, Deserialize)]
enum WireValue {
    Counter(f64),
    Gauge(WireGauge),
    Rate { passes: u64, total: u64 },
    Trend(WireTrend),
}

fn tags(set: &TagSet) -> Tags {
    set.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn tag_set(tags: Tags) -> TagSet {
    TagSet::new(tags)
}

/// Lists a map's entries sorted by tags, so equal aggregates encode to
/// equal bytes.
fn sorted<'a, V: 'a, W>(
    entries: impl IntoIterator<Item = (&'a TagSet, &'a V)>,
    f: impl Fn(&'a V) -> W,
) -> Vec<(Tags, W)> {
    let mut list: Vec<_> = entries.into_iter().collect();
    list.sort_by(|a, b| a.0.cmp(b.0));
    list.into_iter().map(|(t, v)| (tags(t), f(v))).collect()
}

impl From<&Aggregate> for Wire {
    fn from(a: &Aggregate) -> Self {
        let mut http: Vec<_> = a.http.iter().collect();
        http.sort_by(|x, y| x.0.cmp(y.0));
        let http = http
            .into_iter()
            .map(|(t, s)| {
                let half = |h: &Option<Box<HttpStats>>| h.as_deref().map(WireHttp::from);
                (tags(t), half(&s.ok), half(&s.failed))
            })
            .collect();
        let gauges = by_name(
            a.gauges
                .iter()
                .map(|(m, s)| (m, sorted(s, WireGauge::from))),
        );
        let counters = by_name(a.counters.iter().map(|(m, s)| (m, sorted(s, |v| *v))));
        let trends = by_name(
            a.trends
                .iter()
                .map(|(m, s)| (m, sorted(s, WireTrend::from))),
        );
        let mut custom: Vec<_> = a.custom.values().map(WireCustom::from).collect();
        custom.sort_by(|x, y| x.name.cmp(&y.name));
        let messages = a
            .failures
            .messages()
            .into_iter()
            .map(|(m, n)| (m.to_owned(), n))
            .collect();
        Wire {
            http,
            checks: sorted(&a.checks, WireCheck::from),
            iterations: sorted(&a.iterations, |s: &IterationSeries| {
                (WireTrend::from(&s.duration), s.interrupted)
            })
            .into_iter()
            .map(|(t, (d, i))| (t, d, i))
            .collect(),
            gauges,
            counters,
            trends,
            custom,
            failures: (messages, a.failures.other()),
            clock: a.clock,
        }
    }
}

/// Per-metric lists keyed by the metric's k6 name, sorted by it.
fn by_name<'a, W>(
    metrics: impl Iterator<Item = (&'a Builtin, Vec<(Tags, W)>)>,
) -> Vec<(String, Vec<(Tags, W)>)> {
    let mut list: Vec<_> = metrics
        .map(|(metric, series)| (metric.name().to_owned(), series))
        .collect();
    list.sort_by(|x, y| x.0.cmp(&y.0));
    list
}

impl Wire {
    fn into_aggregate(self) -> Result<Aggregate, DecodeError> {
        let mut a = Aggregate::new();
        for (t, ok, failed) in self.http {
            let half = |h: Option<WireHttp>| h.map(|h| h.into_stats().map(Box::new)).transpose();
            let series = HttpSeries {
                ok: half(ok)?,
                failed: half(failed)?,
            };
            a.http.insert(tag_set(t), series);
        }
        for (t, c) in self.checks {
            let series = CheckSeries {
                passes: c.passes,
                total: c.total,
                first_seen: c.first_seen,
            };
            a.checks.insert(tag_set(t), series);
        }
        for (t, duration, interrupted) in self.iterations {
            let series = IterationSeries {
                duration: duration.into_trend()?,
                interrupted,
            };
            a.iterations.insert(tag_set(t), series);
        }
        for (name, series) in self.gauges {
            let map = a.gauges.entry(builtin(&name)?).or_default();
            for (t, g) in series {
                map.insert(tag_set(t), g.into());
            }
        }
        for (name, series) in self.counters {
            let map = a.counters.entry(builtin(&name)?).or_default();
            for (t, sum) in series {
                map.insert(tag_set(t), sum);
            }
        }
        for (name, series) in self.trends {
            let map = a.trends.entry(builtin(&name)?).or_default();
            for (t, trend) in series {
                map.insert(tag_set(t), trend.into_trend()?);
            }
        }
        for custom in self.custom {
            let series = custom.into_series()?;
            a.custom.insert(series.metric.name().into(), series);
        }
        let (messages, other) = self.failures;
        a.failures = FailureLog::from_parts(messages, other);
        a.clock = self.clock;
        Ok(a)
    }
}

fn builtin(name: &str) -> Result<Builtin, DecodeError> {
    Builtin::from_name(name).ok_or_else(|| DecodeError::Metric(format!("`{name}` is not built in")))
}

impl From<&HttpStats> for WireHttp {
    fn from(s: &HttpStats) -> Self {
        WireHttp {
            requests: s.requests,
            sent: s.sent,
            received: s.received,
            trends: [
                (&s.blocked).into(),
                (&s.connecting).into(),
                (&s.tls_handshaking).into(),
                (&s.sending).into(),
                (&s.waiting).into(),
                (&s.receiving).into(),
                (&s.duration).into(),
            ],
        }
    }
}

impl WireHttp {
    fn into_stats(self) -> Result<HttpStats, DecodeError> {
        let [
            blocked,
            connecting,
            tls_handshaking,
            sending,
            waiting,
            receiving,
            duration,
        ] = self.trends;
        Ok(HttpStats {
            requests: self.requests,
            sent: self.sent,
            received: self.received,
            blocked: blocked.into_trend()?,
            connecting: connecting.into_trend()?,
            tls_handshaking: tls_handshaking.into_trend()?,
            sending: sending.into_trend()?,
            waiting: waiting.into_trend()?,
            receiving: receiving.into_trend()?,
            duration: duration.into_trend()?,
        })
    }
}

impl From<&CheckSeries> for WireCheck {
    fn from(c: &CheckSeries) -> Self {
        WireCheck {
            passes: c.passes,
            total: c.total,
            first_seen: c.first_seen,
        }
    }
}

impl From<&GaugeSeries> for WireGauge {
    fn from(g: &GaugeSeries) -> Self {
        WireGauge {
            last: g.last,
            min: g.min,
            max: g.max,
            at: g.at,
        }
    }
}

impl From<WireGauge> for GaugeSeries {
    fn from(g: WireGauge) -> Self {
        GaugeSeries {
            last: g.last,
            min: g.min,
            max: g.max,
            at: g.at,
        }
    }
}

impl From<&Trend> for WireTrend {
    fn from(t: &Trend) -> Self {
        let mut histogram = Vec::new();
        V2Serializer::new()
            .serialize(t.histogram(), &mut histogram)
            .expect("a histogram of whole counts always encodes into a Vec");
        let (count, min_ns, max_ns, sum_ns) = t.parts();
        WireTrend {
            histogram,
            count,
            min_ns,
            max_ns,
            sum_ns,
        }
    }
}

impl WireTrend {
    fn into_trend(self) -> Result<Trend, DecodeError> {
        let mut histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut Cursor::new(&self.histogram))
            .map_err(|e| DecodeError::Histogram(format!("{e:?}")))?;
        if histogram.len() != self.count {
            return Err(DecodeError::Histogram(format!(
                "it holds {} values where {} were recorded",
                histogram.len(),
                self.count
            )));
        }
        // A decoded histogram has fixed bounds; trends must grow on merge.
        histogram.auto(true);
        Ok(Trend::from_parts(
            histogram,
            self.count,
            self.min_ns,
            self.max_ns,
            self.sum_ns,
        ))
    }
}

impl From<&CustomSeries> for WireCustom {
    fn from(c: &CustomSeries) -> Self {
        let value = |v: &CustomValue| match v {
            CustomValue::Counter(sum) => WireValue::Counter(*sum),
            CustomValue::Gauge(g) => WireValue::Gauge(g.into()),
            CustomValue::Rate { passes, total } => WireValue::Rate {
                passes: *passes,
                total: *total,
            },
            CustomValue::Trend(t) => WireValue::Trend(t.into()),
        };
        WireCustom {
            name: c.metric.name().to_owned(),
            kind: c.metric.kind().name().to_owned(),
            is_time: c.metric.unit() == ValueUnit::Time,
            series: sorted(&c.series, value),
        }
    }
}

impl WireCustom {
    fn into_series(self) -> Result<CustomSeries, DecodeError> {
        let kind = MetricKind::from_name(&self.kind)
            .ok_or_else(|| DecodeError::Metric(format!("`{}` is no metric kind", self.kind)))?;
        let metric = if self.name == GROUP_DURATION {
            CustomMetric::group_duration()
        } else {
            CustomMetric::new(&self.name, kind, self.is_time)
                .map_err(|e| DecodeError::Metric(e.to_string()))?
        };
        let mut series = CustomSeries::new(Arc::new(metric));
        for (t, value) in self.series {
            let value = match (value, kind) {
                (WireValue::Counter(sum), MetricKind::Counter) => CustomValue::Counter(sum),
                (WireValue::Gauge(g), MetricKind::Gauge) => CustomValue::Gauge(g.into()),
                (WireValue::Rate { passes, total }, MetricKind::Rate) => {
                    CustomValue::Rate { passes, total }
                }
                (WireValue::Trend(t), MetricKind::Trend) => CustomValue::Trend(t.into_trend()?),
                _ => {
                    return Err(DecodeError::Metric(format!(
                        "`{}` holds values of another kind than {kind}",
                        self.name
                    )));
                }
            };
            series.series.insert(tag_set(t), value);
        }
        Ok(series)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::aggregate::MetricValue;
    use crate::sample::{HttpTimings, IterationOutcome, Sample};
    use crate::summary::{RunInfo, Summary};
    use crate::threshold::Thresholds;

    /// A part of a run touching every kind of series, varied by `seed` so
    /// parts differ.
    fn part(seed: u64) -> Aggregate {
        let mut a = Aggregate::new();
        for i in 0..200 + seed * 37 {
            let ms = (i * 7919 + seed * 104_729) % 900 + 1;
            let status = if i % 11 == 0 { "500" } else { "200" };
            let name = ["/products", "/cart", "/login"][(i % 3) as usize];
            let tags = TagSet::new([("name", name), ("method", "GET"), ("status", status)]);
            let timings = HttpTimings {
                duration: Duration::from_micros(ms * 1_000 + i),
                waiting: Duration::from_micros(ms * 900),
                blocked: Duration::from_nanos(i * 13),
                ..HttpTimings::default()
            };
            a.add(&Sample::Http {
                tags,
                timings,
                failed: status == "500",
                sent: 120 + i,
                received: 2_000 + seed,
            });
            let check = TagSet::new([("check", "status is 200"), ("group", "")]);
            a.add(&Sample::Check {
                tags: check,
                passed: status == "200",
            });
        }
        let scenario = TagSet::new([("scenario", "default")]);
        for (i, outcome) in [
            IterationOutcome::Completed,
            IterationOutcome::Failed(format!("boom {seed}")),
            IterationOutcome::Interrupted,
            IterationOutcome::Failed("same everywhere".into()),
        ]
        .into_iter()
        .enumerate()
        {
            a.add(&Sample::Iteration {
                tags: scenario.clone(),
                duration: Duration::from_millis(10 * (i as u64 + seed + 1)),
                outcome,
            });
        }
        a.add(&Sample::Gauge {
            metric: Builtin::Vus,
            tags: TagSet::default(),
            value: (seed + 3) as f64,
        });
        a.add(&Sample::Counter {
            metric: Builtin::DroppedIterations,
            tags: scenario.clone(),
            value: seed as f64,
        });
        a.add(&Sample::Trend {
            metric: Builtin::IterationLateness,
            tags: scenario.clone(),
            value: Duration::from_micros(250 * (seed + 1)),
        });
        let custom =
            |name: &str, kind, is_time| Arc::new(CustomMetric::new(name, kind, is_time).unwrap());
        for (metric, value) in [
            (custom("orders", MetricKind::Counter, false), 2.5),
            (
                custom("queue_depth", MetricKind::Gauge, false),
                40.0 + seed as f64,
            ),
            (
                custom("cache_hit", MetricKind::Rate, false),
                (seed % 2) as f64,
            ),
            (
                custom("render_time", MetricKind::Trend, true),
                12.345 * (seed + 1) as f64,
            ),
            (custom("payload", MetricKind::Trend, false), 77.0),
            (Arc::new(CustomMetric::group_duration()), 5.0),
        ] {
            a.add(&Sample::Custom {
                metric,
                tags: scenario.with("group", "::checkout"),
                value,
            });
        }
        a
    }

    fn summary_json(a: &Aggregate) -> serde_json::Value {
        let mut thresholds = Thresholds::new();
        thresholds.push_cli("http_req_duration: p(95)<500").unwrap();
        thresholds.push_cli("render_time: p(99)<20").unwrap();
        let elapsed = Duration::from_secs(10);
        let outcomes = thresholds.evaluate(a, elapsed);
        let info = RunInfo {
            elapsed,
            vus_max: 10,
        };
        Summary::new(a, &outcomes, info).to_json()
    }

    #[test]
    fn round_trip_keeps_every_series() {
        let original = part(3);
        let bytes = original.encode();
        let decoded = Aggregate::decode(&bytes).unwrap();
        assert_eq!(summary_json(&decoded), summary_json(&original));
        assert_eq!(decoded.encode(), bytes, "encoding is deterministic");
        assert_eq!(decoded.failures.messages(), original.failures.messages());
        assert_eq!(decoded.custom_metrics().len(), 6);
        assert_eq!(decoded.checks(), original.checks());
        let empty = Aggregate::decode(&Aggregate::new().encode()).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn decoded_parts_merge_like_parts_in_memory() {
        let parts: Vec<Aggregate> = (0..5).map(part).collect();
        let mut in_memory = Aggregate::new();
        let mut decoded = Aggregate::new();
        for p in &parts {
            in_memory.merge(p);
            decoded.merge(&Aggregate::decode(&p.encode()).unwrap());
        }
        assert_eq!(summary_json(&decoded), summary_json(&in_memory));
        for metric in [Builtin::HttpReqDuration, Builtin::HttpReqWaiting] {
            let (Some(MetricValue::Trend(a)), Some(MetricValue::Trend(b))) =
                (in_memory.metric(metric), decoded.metric(metric))
            else {
                panic!("{metric} has no trend");
            };
            assert!(a.count() > 1_000);
            for p in [50.0, 90.0, 95.0, 99.0, 99.9, 100.0] {
                assert_eq!(a.percentile(p), b.percentile(p), "{metric} p({p})");
            }
            assert_eq!(a.avg(), b.avg());
        }
        let Some(MetricValue::Counter { sum }) = decoded.metric(Builtin::HttpReqs) else {
            panic!("no http_reqs");
        };
        let expected: u64 = (0..5).map(|seed| 200 + seed * 37).sum();
        assert_eq!(sum, expected as f64);
    }

    #[test]
    fn decoded_trends_grow_past_their_decoded_range() {
        let mut small = Aggregate::new();
        small.add(&Sample::Trend {
            metric: Builtin::IterationLateness,
            tags: TagSet::default(),
            value: Duration::from_micros(3),
        });
        let mut decoded = Aggregate::decode(&small.encode()).unwrap();
        let mut large = Aggregate::new();
        large.add(&Sample::Trend {
            metric: Builtin::IterationLateness,
            tags: TagSet::default(),
            value: Duration::from_secs(3_600),
        });
        decoded.merge(&large);
        decoded.add(&Sample::Trend {
            metric: Builtin::IterationLateness,
            tags: TagSet::default(),
            value: Duration::from_secs(7_200),
        });
        let Some(MetricValue::Trend(t)) = decoded.metric(Builtin::IterationLateness) else {
            panic!("no lateness");
        };
        assert_eq!(t.count(), 3);
        assert_eq!(t.max(), Duration::from_secs(7_200));
    }

    #[test]
    fn foreign_or_damaged_bytes_are_refused() {
        let bytes = part(1).encode();
        assert!(matches!(
            Aggregate::decode(b"{\"json\": true}"),
            Err(DecodeError::Magic)
        ));
        let mut future = bytes.clone();
        future[4] = 9;
        let err = Aggregate::decode(&future).unwrap_err();
        assert!(matches!(err, DecodeError::Version { found: 9 }), "{err}");
        assert!(Aggregate::decode(&bytes[..bytes.len() / 2]).is_err());
        assert!(Aggregate::decode(&bytes[..5]).is_err());
    }
}
