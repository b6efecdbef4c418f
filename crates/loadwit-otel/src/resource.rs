//! The resource: who is sending, attached to every export.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::config::OtelConfig;
use crate::trace::string;

/// What identifies one run in the backend, beside the configuration.
#[derive(Clone, Debug, Default)]
pub struct RunMeta {
    /// A unique id for the run, exported as `loadwit.run.id`; pods of one
    /// distributed run share it. A random one is made when `None`.
    pub run_id: Option<String>,
    /// `deployment.environment`, such as `staging`; an attribute of the
    /// same name in `OTEL_RESOURCE_ATTRIBUTES` takes precedence.
    pub environment: Option<String>,
    /// The test's tags (k6's `tags` option), exported as resource
    /// attributes under their own names.
    pub tags: Vec<(String, String)>,
}

impl RunMeta {
    /// The run id, made once if none was given.
    pub(crate) fn resolve_run_id(&mut self) -> String {
        self.run_id
            .get_or_insert_with(|| format!("{:032x}", rand::random::<u128>()))
            .clone()
    }
}

/// Builds the resource: defaults, then the test's tags, then the
/// configured attributes, then `service.name`; later entries win.
pub(crate) fn resource(config: &OtelConfig, run: &mut RunMeta) -> Resource {
    let mut pairs: Vec<(String, String)> = vec![
        ("service.version".into(), env!("CARGO_PKG_VERSION").into()),
        ("telemetry.sdk.name".into(), "loadwit".into()),
        ("telemetry.sdk.language".into(), "rust".into()),
        (
            "telemetry.sdk.version".into(),
            env!("CARGO_PKG_VERSION").into(),
        ),
        ("loadwit.run.id".into(), run.resolve_run_id()),
    ];
    if let Some(environment) = &run.environment {
        pairs.push(("deployment.environment".into(), environment.clone()));
        pairs.push(("deployment.environment.name".into(), environment.clone()));
    }
    pairs.extend(run.tags.iter().cloned());
    pairs.extend(config.resource_attributes().iter().cloned());
    pairs.push(("service.name".into(), config.service_name().into()));

    let mut unique: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        match unique.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => pair.1 = value,
            None => unique.push((key, value)),
        }
    }
    Resource {
        attributes: unique.iter().map(|(k, v)| string(k, v)).collect(),
        ..Resource::default()
    }
}

/// The instrumentation scope named on every export.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "loadwit".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..InstrumentationScope::default()
    }
}
