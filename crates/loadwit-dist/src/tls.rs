//! TLS for the coordinator's listener and the agents' connections, from
//! PEM files.
//!
//! Plaintext is the default, meant for a private network such as a
//! Kubernetes namespace. With `--tls-cert` and `--tls-key` the
//! coordinator serves TLS; with `--tls-ca` as well it asks agents for a
//! client certificate signed by that CA (mutual TLS). An agent given
//! `--tls-ca` connects over TLS and trusts that CA; with `--tls-cert`
//! and `--tls-key` as well it presents its own certificate.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The PEM files one side was given.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// This side's certificate chain.
    pub cert: Option<PathBuf>,
    /// This side's private key.
    pub key: Option<PathBuf>,
    /// The CA the other side's certificate must chain to.
    pub ca: Option<PathBuf>,
}

/// A TLS file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the `{flag}` file `{}`: {source}", .path.display())]
    Read {
        flag: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Incomplete(&'static str),
}

impl TlsFiles {
    /// The coordinator's TLS settings; `None` for plaintext.
    ///
    /// # Errors
    ///
    /// When a file cannot be read, or only one of the certificate and
    /// key is given.
    pub fn server(&self) -> Result<Option<ServerTlsConfig>, TlsError> {
        let Some(identity) = self.identity()? else {
            if self.ca.is_some() {
                return Err(TlsError::Incomplete(
                    "`--tls-ca` on the coordinator needs `--tls-cert` and `--tls-key` too",
                ));
            }
            return Ok(None);
        };
        let mut config = ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &self.ca {
            config = config.client_ca_root(Certificate::from_pem(read("--tls-ca", ca)?));
        }
        Ok(Some(config))
    }

    /// An agent's TLS settings for a coordinator named `host`; `None`
    /// for plaintext.
    ///
    /// # Errors
    ///
    /// When a file cannot be read, or a certificate is given without the
    /// CA that says whom to trust.
    pub fn client(&self, host: &str) -> Result<Option<ClientTlsConfig>, TlsError> {
        let identity = self.identity()?;
        let Some(ca) = &self.ca else {
            if identity.is_some() {
                return Err(TlsError::Incomplete(
                    "an agent's `--tls-cert` needs `--tls-ca`, the CA of the coordinator's certificate",
                ));
            }
            return Ok(None);
        };
        let mut config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read("--tls-ca", ca)?))
            .domain_name(host);
        if let Some(identity) = identity {
            config = config.identity(identity);
        }
        Ok(Some(config))
    }

    fn identity(&self) -> Result<Option<Identity>, TlsError> {
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Ok(Some(Identity::from_pem(
                read("--tls-cert", cert)?,
                read("--tls-key", key)?,
            ))),
            (None, None) => Ok(None),
            _ => Err(TlsError::Incomplete(
                "`--tls-cert` and `--tls-key` go together; give both or neither",
            )),
        }
    }
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        flag,
        path: path.to_owned(),
        source,
    })
}
