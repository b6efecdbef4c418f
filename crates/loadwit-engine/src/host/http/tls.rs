//! TLS client settings: which roots are trusted, whether certificates are
//! checked at all, and which client certificate each host gets.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::options::ClientCert;

/// The protocols offered in ALPN, HTTP/2 first as browsers do.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The rustls configurations of a run, built once and shared by every VU.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfigs {
    /// For hosts no `tlsAuth` entry names.
    default: Arc<ClientConfig>,
    /// One configuration per `tlsAuth` entry, in the options' order.
    by_domain: Vec<(Vec<String>, Arc<ClientConfig>)>,
}

/// Why the TLS settings could not be built: the option at fault and the
/// problem.
#[derive(Debug)]
pub(crate) struct TlsSetupError {
    pub(crate) field: String,
    pub(crate) problem: String,
}

impl TlsConfigs {
    /// Builds the configurations from resolved options: the system's roots
    /// plus `tlsCACert`, or no verification with `insecureSkipTLSVerify`.
    pub(crate) fn build(
        insecure: bool,
        ca_pem: Option<&[u8]>,
        client_certs: &[ClientCert],
    ) -> Result<Self, TlsSetupError> {
        let roots = Arc::new(roots(ca_pem)?);
        let default = Arc::new(config(&roots, insecure, None)?);
        let by_domain = client_certs
            .iter()
            .enumerate()
            .map(|(i, cert)| {
                let config = config(&roots, insecure, Some((i, cert)))?;
                Ok((cert.domains.clone(), Arc::new(config)))
            })
            .collect::<Result<_, TlsSetupError>>()?;
        Ok(Self { default, by_domain })
    }

    /// The configuration for `host`: the first `tlsAuth` entry naming it
    /// (or naming no domains at all), else the default.
    pub(crate) fn for_host(&self, host: &str) -> &Arc<ClientConfig> {
        self.by_domain
            .iter()
            .find(|(domains, _)| domains.is_empty() || domains.iter().any(|d| matches(d, host)))
            .map_or(&self.default, |(_, config)| config)
    }
}

fn matches(domain: &str, host: &str) -> bool {
    match domain.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('.')),
        None => domain.eq_ignore_ascii_case(host),
    }
}

fn roots(ca_pem: Option<&[u8]>) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        tracing::debug!(%error, "a system root certificate could not be loaded");
    }
    let (added, ignored) = roots.add_parsable_certificates(system.certs);
    tracing::debug!(added, ignored, "system root certificates");

    if let Some(pem) = ca_pem {
        let certs = parse_certs("tlsCACert", pem)?;
        for cert in certs {
            roots.add(cert).map_err(|e| TlsSetupError {
                field: "tlsCACert".into(),
                problem: format!("holds a certificate that cannot be a root: {e}"),
            })?;
        }
    }
    Ok(roots)
}

fn config(
    roots: &Arc<RootCertStore>,
    insecure: bool,
    client: Option<(usize, &ClientCert)>,
) -> Result<ClientConfig, TlsSetupError> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots.clone());
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some((i, cert)) => {
            let field = format!("tlsAuth[{i}]");
            let chain = parse_certs(&format!("{field}.cert"), &cert.cert_pem)?;
            let key = PrivateKeyDer::from_pem_slice(&cert.key_pem).map_err(|e| TlsSetupError {
                field: format!("{field}.key"),
                problem: format!("is not a PEM private key: {e}"),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsSetupError {
                    field,
                    problem: format!("is not a usable certificate and key: {e}"),
                })?
        }
    };
    if insecure {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)));
    }
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

fn parse_certs(field: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsSetupError {
            field: field.into(),
            problem: format!("is not PEM certificates: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError {
            field: field.into(),
            problem: "holds no PEM certificate; give a file with `BEGIN CERTIFICATE` blocks".into(),
        });
    }
    Ok(certs)
}

/// `insecureSkipTLSVerify`: any certificate for any name is accepted, but
/// handshake signatures are still checked so the session is well formed.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn domains_match_exactly_or_by_wildcard_suffix() {
        assert!(matches("api.test", "API.test"));
        assert!(matches("*.test", "api.test"));
        assert!(!matches("*.test", "test"));
        assert!(!matches("*.test", "apitest"));
        assert!(!matches("api.test", "www.api.test"));
    }
}
