//! The TLS flags `loadwit coordinate` and `loadwit agent` share.

use std::path::PathBuf;

use clap::Args;
use loadwit_dist::tls::TlsFiles;

/// TLS between the coordinator and its agents; plaintext without them.
#[derive(Args, Debug, Default)]
pub struct TlsFlags {
    /// This side's TLS certificate chain, PEM. On the coordinator it
    /// turns TLS on; on an agent it is the client certificate for
    /// mutual TLS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The private key of `--tls-cert`, PEM.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// A CA certificate, PEM. On an agent it turns TLS on and is the CA
    /// the coordinator's certificate must chain to; on the coordinator
    /// it makes agents present a certificate signed by it.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

impl TlsFlags {
    /// The files given.
    pub fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            ca: self.tls_ca.clone(),
        }
    }
}
