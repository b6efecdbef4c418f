//! The `checks` import: named pass/fail assertions.

use loadwit_metrics::{Sample, TagSet};

use super::VuState;
use super::loadwit::scenario::checks::Host;
use super::loadwit::scenario::types::Tags;

impl Host for VuState {
    fn check(&mut self, name: String, passed: bool, tags: Tags) -> wasmtime::Result<bool> {
        let context = &mut self.context;
        context.trace.check(&name, passed);
        let tags = if tags.is_empty() {
            context.tags.with("check", name)
        } else {
            let pairs = context
                .tags
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()));
            TagSet::new(pairs.chain(tags).chain([("check".to_owned(), name)]))
        };
        context.recorder.record(Sample::Check { tags, passed });
        Ok(passed)
    }
}
