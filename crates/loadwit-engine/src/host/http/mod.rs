//! The `http` import: requests out, typed responses or errors back, one
//! sample per request on the wire.
//!
//! The client is hyper's, driven directly so every phase is measured where
//! it happens:
//!
//! - [`connect`]: DNS, TCP and TLS (rustls, ALPN picking HTTP/2 or
//!   HTTP/1.1), each timed, and a VU's pool of idle connections.
//! - [`probe`]: an I/O wrapper that timestamps the last byte written and
//!   the first byte read, and counts bytes on the socket.
//! - [`exchange`]: one request on one connection, its body streamed.
//! - [`client`]: a VU's client, its redirect loop and timeouts.
//! - [`cookies`], [`tls`], [`names`], [`error`]: the jar, TLS settings,
//!   the URL-cardinality guard and the error kinds.

mod client;
mod connect;
mod cookies;
mod error;
mod exchange;
mod names;
mod probe;
mod tls;

use std::time::Instant;

use futures_util::future::join_all;
use loadwit_metrics::{Builtin, Sample, TagSet};

pub(crate) use client::{HttpClient, HttpRun};
pub(crate) use tls::TlsConfigs;

use super::loadwit::scenario::http::Host;
use super::loadwit::scenario::types::{HttpError, Request, Response};
use super::{VuContext, VuState};
use client::Fetched;
use error::error_code;

impl VuContext {
    /// The VU's client, told first which iteration is running.
    pub(crate) fn http_now(&mut self) -> &mut HttpClient {
        self.http.enter_iteration(self.iteration);
        &mut self.http
    }

    /// Records one sample per hop of `fetched`.
    fn record(&mut self, fetched: &Fetched) {
        for hop in &fetched.hops {
            let raw_name = fetched.name.as_deref().unwrap_or(&hop.url);
            let name = self.http.names.tag(&self.http.run.names, raw_name);
            let mut tags: Vec<(String, String)> = self
                .tags
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .chain(fetched.tags.iter().cloned())
                .collect();
            tags.push(("method".into(), hop.method.clone()));
            tags.push(("name".into(), name.to_owned()));
            if self.http.run.tag_url {
                tags.push(("url".into(), hop.url.clone()));
            }
            match hop.outcome {
                Ok(status) => tags.push(("status".into(), status.to_string())),
                Err(kind) => tags.push(("error_code".into(), error_code(kind).into())),
            }
            if let Some(proto) = hop.proto {
                tags.push(("proto".into(), proto.tag().into()));
            }
            if let Some(version) = hop.tls_version {
                tags.push(("tls_version".into(), version.into()));
            }
            let tags = TagSet::new(tags);
            // An arrival-rate iteration that started late also measures
            // its requests from when it should have started.
            if let Some(lateness) = self.lateness {
                self.recorder.record(Sample::Trend {
                    metric: Builtin::HttpReqDurationCorrected,
                    tags: tags.clone(),
                    value: hop.timings.duration + lateness,
                });
            }
            self.recorder.record(Sample::Http {
                tags,
                timings: hop.timings,
                failed: hop.failed,
                sent: hop.sent,
                received: hop.received,
            });
        }
    }
}

impl Host for VuState {
    async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let fetched = self.context.http_now().fetch(request).await;
        self.context.record(&fetched);
        self.guest_since = Instant::now();
        fetched.result
    }

    async fn batch(&mut self, requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        let client = self.context.http_now();
        let all = join_all(requests.into_iter().map(|r| client.fetch(r))).await;
        let mut results = Vec::with_capacity(all.len());
        for fetched in all {
            self.context.record(&fetched);
            results.push(fetched.result);
        }
        self.guest_since = Instant::now();
        results
    }
}
