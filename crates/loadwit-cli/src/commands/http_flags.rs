//! `loadwit run`'s HTTP client flags: k6's, over the options' fields.

use clap::Args;
use loadwit_engine::HttpOptions;

/// Flags that set the HTTP client options of the same k6 names.
#[derive(Args, Debug, Default)]
pub struct HttpFlags {
    /// Follow at most this many redirects per request (`maxRedirects`;
    /// 10 by default, 0 follows none).
    #[arg(long, value_name = "N")]
    max_redirects: Option<u32>,

    /// The `User-Agent` of requests that set none (`userAgent`).
    #[arg(long, value_name = "TEXT")]
    user_agent: Option<String>,

    /// Accept any TLS certificate (`insecureSkipTLSVerify`).
    #[arg(long)]
    insecure_skip_tls_verify: bool,

    /// Open a new connection for every request (`noConnectionReuse`).
    #[arg(long)]
    no_connection_reuse: bool,

    /// Close a VU's connections at each new iteration
    /// (`noVUConnectionReuse`).
    #[arg(long = "no-vu-connection-reuse")]
    no_vu_connection_reuse: bool,

    /// Read response bodies without keeping them
    /// (`discardResponseBodies`).
    #[arg(long)]
    discard_response_bodies: bool,
}

impl HttpFlags {
    /// The options these flags set; a flag not given leaves its option to
    /// the layers below.
    pub fn options(&self) -> HttpOptions {
        let set = |on: bool| on.then_some(true);
        HttpOptions {
            max_redirects: self.max_redirects,
            user_agent: self.user_agent.clone(),
            insecure_skip_tls_verify: set(self.insecure_skip_tls_verify),
            no_connection_reuse: set(self.no_connection_reuse),
            no_vu_connection_reuse: set(self.no_vu_connection_reuse),
            discard_response_bodies: set(self.discard_response_bodies),
            ..HttpOptions::default()
        }
    }
}
