//! HTTP client options, under k6's names: the layer as written, and the
//! settings every VU's client shares once resolved.

use serde::{Deserialize, Serialize};

use super::OptionsError;
use crate::host::TlsConfigs;

/// How many redirects a request follows when nothing says otherwise, as k6.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;

/// One layer of HTTP options; every field optional so layers stack.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpOptions {
    /// Redirects followed per request (`maxRedirects`); 0 follows none.
    pub max_redirects: Option<u32>,
    /// The `User-Agent` of every request that sets none.
    pub user_agent: Option<String>,
    /// Accept any server certificate (`insecureSkipTLSVerify`).
    #[serde(rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: Option<bool>,
    /// Open a new connection for every request.
    pub no_connection_reuse: Option<bool>,
    /// Close a VU's connections when it starts a new iteration.
    #[serde(rename = "noVUConnectionReuse")]
    pub no_vu_connection_reuse: Option<bool>,
    /// Read response bodies without keeping them.
    pub discard_response_bodies: Option<bool>,
    /// Client certificates (mTLS), each for a list of domains.
    pub tls_auth: Option<Vec<TlsAuth>>,
    /// Extra trusted roots beside the system's: a PEM file's path or its
    /// text (`tlsCACert`).
    #[serde(rename = "tlsCACert")]
    pub tls_ca_cert: Option<String>,
}

/// One `tlsAuth` entry, as in k6; `cert` and `key` are PEM text or the
/// path of a PEM file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsAuth {
    /// Hosts this certificate is offered to: exact names or `*.suffix`;
    /// every host when empty.
    #[serde(default)]
    pub domains: Vec<String>,
    pub cert: String,
    pub key: String,
}

/// HTTP options resolved with their defaults.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_redirects: u32,
    pub user_agent: String,
    pub insecure_skip_tls_verify: bool,
    pub no_connection_reuse: bool,
    pub no_vu_connection_reuse: bool,
    pub discard_response_bodies: bool,
    /// Trusted roots and client certificates, built once for every VU.
    pub(crate) tls: TlsConfigs,
}

/// A `tlsAuth` client certificate chain and key, as PEM text.
#[derive(Debug, Clone)]
pub(crate) struct ClientCert {
    pub(crate) domains: Vec<String>,
    pub(crate) cert_pem: Vec<u8>,
    pub(crate) key_pem: Vec<u8>,
}

impl Default for HttpSettings {
    /// The settings of empty options: what `options`, `setup` and
    /// `teardown` get before options are resolved.
    fn default() -> Self {
        HttpOptions::default()
            .resolve()
            .expect("empty HTTP options always resolve")
    }
}

impl HttpOptions {
    /// Stacks `top` over `self`: fields set in `top` win.
    pub fn overlay(self, top: HttpOptions) -> HttpOptions {
        HttpOptions {
            max_redirects: top.max_redirects.or(self.max_redirects),
            user_agent: top.user_agent.or(self.user_agent),
            insecure_skip_tls_verify: top
                .insecure_skip_tls_verify
                .or(self.insecure_skip_tls_verify),
            no_connection_reuse: top.no_connection_reuse.or(self.no_connection_reuse),
            no_vu_connection_reuse: top.no_vu_connection_reuse.or(self.no_vu_connection_reuse),
            discard_response_bodies: top.discard_response_bodies.or(self.discard_response_bodies),
            tls_auth: top.tls_auth.or(self.tls_auth),
            tls_ca_cert: top.tls_ca_cert.or(self.tls_ca_cert),
        }
    }

    /// Replaces the PEM file paths of `tlsCACert` and `tlsAuth` with the
    /// files' text, so the options mean the same on a machine that lacks
    /// the files (the agents of a distributed run).
    ///
    /// # Errors
    ///
    /// An [`OptionsError::Field`] naming the field whose file cannot be
    /// read.
    pub fn inline_pem_files(&mut self) -> Result<(), OptionsError> {
        let inline = |field: &str, text: &mut String| {
            let pem = pem_text(field, text)?;
            *text = String::from_utf8_lossy(&pem).into_owned();
            Ok::<(), OptionsError>(())
        };
        if let Some(text) = &mut self.tls_ca_cert {
            inline("tlsCACert", text)?;
        }
        for (i, auth) in self.tls_auth.iter_mut().flatten().enumerate() {
            inline(&format!("tlsAuth[{i}].cert"), &mut auth.cert)?;
            inline(&format!("tlsAuth[{i}].key"), &mut auth.key)?;
        }
        Ok(())
    }

    /// Fills in defaults and reads the PEM files the options name.
    ///
    /// # Errors
    ///
    /// An [`OptionsError::Field`] naming `tlsCACert` or `tlsAuth[i]` when
    /// a file cannot be read, or `userAgent` when it is not a valid header
    /// value.
    pub fn resolve(&self) -> Result<HttpSettings, OptionsError> {
        let user_agent = self
            .user_agent
            .clone()
            .unwrap_or_else(|| concat!("loadwit/", env!("CARGO_PKG_VERSION")).into());
        if http::HeaderValue::from_str(&user_agent).is_err() {
            return Err(OptionsError::field(
                "userAgent",
                "is not a valid header value; use printable ASCII",
            ));
        }
        let ca_pem = self
            .tls_ca_cert
            .as_deref()
            .map(|text| pem_text("tlsCACert", text))
            .transpose()?;
        let client_certs = self
            .tls_auth
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, auth)| {
                Ok(ClientCert {
                    domains: auth.domains.clone(),
                    cert_pem: pem_text(&format!("tlsAuth[{i}].cert"), &auth.cert)?,
                    key_pem: pem_text(&format!("tlsAuth[{i}].key"), &auth.key)?,
                })
            })
            .collect::<Result<Vec<_>, OptionsError>>()?;
        let insecure = self.insecure_skip_tls_verify.unwrap_or(false);
        let tls = TlsConfigs::build(insecure, ca_pem.as_deref(), &client_certs)
            .map_err(|e| OptionsError::field(e.field, e.problem))?;
        Ok(HttpSettings {
            max_redirects: self.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS),
            user_agent,
            insecure_skip_tls_verify: insecure,
            no_connection_reuse: self.no_connection_reuse.unwrap_or(false),
            no_vu_connection_reuse: self.no_vu_connection_reuse.unwrap_or(false),
            discard_response_bodies: self.discard_response_bodies.unwrap_or(false),
            tls,
        })
    }
}

/// PEM text given inline, or read from the file `text` names.
fn pem_text(field: &str, text: &str) -> Result<Vec<u8>, OptionsError> {
    if text.contains("-----BEGIN") {
        return Ok(text.as_bytes().to_vec());
    }
    std::fs::read(text).map_err(|e| {
        OptionsError::field(
            field,
            format!(
                "names `{text}`, which cannot be read: {e}; give a PEM file's path or its text"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k6_names_parse_and_defaults_fill_in() {
        let options: HttpOptions = serde_json::from_str(
            r#"{"maxRedirects": 3, "insecureSkipTLSVerify": true,
                "noVUConnectionReuse": true, "userAgent": "probe/1"}"#,
        )
        .unwrap();
        let settings = options.resolve().unwrap();
        assert_eq!(settings.max_redirects, 3);
        assert!(settings.insecure_skip_tls_verify);
        assert!(settings.no_vu_connection_reuse);
        assert!(!settings.no_connection_reuse);
        assert_eq!(settings.user_agent, "probe/1");
        let defaults = HttpOptions::default().resolve().unwrap();
        assert_eq!(defaults.max_redirects, DEFAULT_MAX_REDIRECTS);
        assert!(defaults.user_agent.starts_with("loadwit/"));
    }

    #[test]
    fn http_keys_sit_at_the_top_level_and_are_not_unknown() {
        let options =
            crate::Options::from_json(r#"{"maxRedirects": 2, "tlsCACert": "x", "noise": 1}"#)
                .unwrap();
        assert_eq!(options.http.max_redirects, Some(2));
        assert_eq!(options.http.tls_ca_cert.as_deref(), Some("x"));
        assert_eq!(options.unknown.keys().collect::<Vec<_>>(), ["noise"]);
    }

    #[test]
    fn unreadable_ca_file_names_the_field() {
        let options = HttpOptions {
            tls_ca_cert: Some("/nonexistent/ca.pem".into()),
            ..HttpOptions::default()
        };
        let err = options.resolve().unwrap_err().to_string();
        assert!(err.starts_with("`tlsCACert` names"), "{err}");
    }
}
