//! The `groups` import: nested groups, their tag and their duration.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use loadwit_metrics::{CustomMetric, Sample, TagSet};

use super::VuState;
use super::loadwit::scenario::groups::Host;

/// A group the guest is inside.
pub(crate) struct OpenGroup {
    /// `::outer::inner`, as k6 writes group paths.
    path: Arc<str>,
    started: Instant,
    /// The VU's tags before the group began, restored when it ends.
    pub(crate) outer: TagSet,
}

impl Host for VuState {
    fn begin(&mut self, name: String) -> wasmtime::Result<()> {
        let parent = self.guest.groups.last().map_or("", |g| &*g.path);
        let path: Arc<str> = format!("{parent}::{name}").into();
        let outer = self.context.tags.clone();
        self.context.tags = outer.with("group", path.clone());
        self.guest.groups.push(OpenGroup {
            path,
            started: Instant::now(),
            outer,
        });
        Ok(())
    }

    fn end(&mut self) -> wasmtime::Result<()> {
        let Some(group) = self.guest.groups.pop() else {
            return Ok(());
        };
        let tags = std::mem::replace(&mut self.context.tags, group.outer);
        let value = group.started.elapsed().as_nanos() as f64 / 1e6;
        let metric = group_duration();
        let sample = Sample::Custom {
            metric,
            tags,
            value,
        };
        self.context.recorder.record(sample);
        Ok(())
    }
}

fn group_duration() -> Arc<CustomMetric> {
    static METRIC: OnceLock<Arc<CustomMetric>> = OnceLock::new();
    METRIC
        .get_or_init(|| Arc::new(CustomMetric::group_duration()))
        .clone()
}
