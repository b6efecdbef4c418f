//! The `metrics` import: metrics the scenario declares and records.

use std::sync::Arc;

use loadwit_metrics::{CustomMetric, MetricKind, Sample};

use super::loadwit::scenario::metrics::{Host, MetricKind as WitKind};
use super::loadwit::scenario::types::Tags;
use super::{VuState, with_tags};

impl Host for VuState {
    fn declare(
        &mut self,
        name: String,
        kind: WitKind,
        is_time: bool,
    ) -> wasmtime::Result<Result<u32, String>> {
        let kind = match kind {
            WitKind::Counter => MetricKind::Counter,
            WitKind::Gauge => MetricKind::Gauge,
            WitKind::Rate => MetricKind::Rate,
            WitKind::Trend => MetricKind::Trend,
        };
        let declared = &mut self.guest.metrics;
        if let Some(index) = declared.iter().position(|m| m.name() == name) {
            let metric = &declared[index];
            if metric.kind() != kind {
                let was = metric.kind();
                return Ok(Err(format!(
                    "metric `{name}` is already a {was}; declare each name once"
                )));
            }
            return Ok(Ok(index as u32));
        }
        match CustomMetric::new(&name, kind, is_time) {
            Ok(metric) => {
                declared.push(Arc::new(metric));
                Ok(Ok((declared.len() - 1) as u32))
            }
            Err(error) => Ok(Err(error.to_string())),
        }
    }

    fn add(&mut self, metric: u32, value: f64, tags: Tags) -> wasmtime::Result<()> {
        let Some(metric) = self.guest.metrics.get(metric as usize).cloned() else {
            wasmtime::bail!("metric handle {metric} was never declared by this instance");
        };
        let tags = with_tags(&self.context.tags, tags);
        let sample = Sample::Custom {
            metric,
            tags,
            value,
        };
        self.context.recorder.record(sample);
        Ok(())
    }
}
