//! Extra trust anchors for the SDK's HTTPS client: `AWS_CA_BUNDLE`, a PEM file of CA
//! certificates, as the other AWS SDKs and the AWS CLI read it (a TLS-inspecting proxy's CA, a
//! private endpoint's, or the emulator's throwaway one). The platform's roots stay trusted.

use std::path::{Path, PathBuf};

use aws_sdk_bedrockruntime::config::SharedHttpClient;
use aws_smithy_http_client::{
    Builder, ConnectorBuilder,
    proxy::ProxyConfig,
    tls::{self, TlsContext, TrustStore},
};
use aws_smithy_types::base64;
use rustls::{
    RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};

/// `AWS_CA_BUNDLE` could not be used.
#[derive(Debug, thiserror::Error)]
#[error("AWS_CA_BUNDLE: {path}: {reason}")]
pub struct CaBundleError {
    path: PathBuf,
    reason: String,
}

/// The platform's roots and the certificates in `ca_bundle`.
pub(crate) fn tls_context(ca_bundle: &Path) -> Result<TlsContext, CaBundleError> {
    let error = |reason: String| CaBundleError { path: ca_bundle.to_owned(), reason };
    let pem = std::fs::read(ca_bundle).map_err(|e| error(e.to_string()))?;
    let mut trust = TrustStore::default();
    for cert in anchors(&pem).map_err(error)? {
        trust.add_pem_certificate(to_pem(&cert));
    }
    TlsContext::builder().with_trust_store(trust).build().map_err(|e| error(e.to_string()))
}

/// A new HTTP client with a connection pool of its own: what aws-smithy-runtime's default
/// client is, with `context` as its TLS trust when given. (`build_https` would leave out the
/// proxy settings the default honours.)
pub(crate) fn http_client(context: Option<TlsContext>) -> SharedHttpClient {
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        if let Some(context) = &context {
            connector = connector.tls_context(context.clone());
        }
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Every certificate in `pem` that rustls can use as a trust anchor. The SDK panics on one it
/// cannot, so those are left out here (as rustls-native-certs leaves them out of the platform's
/// roots); a file with none at all, or with broken PEM, is refused.
fn anchors(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not a PEM file of certificates ({e})"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    let total = certs.len();
    let usable: Vec<_> =
        certs.into_iter().filter(|c| RootCertStore::empty().add(c.clone()).is_ok()).collect();
    if usable.is_empty() {
        return Err(format!("none of its {total} certificates can be a trust anchor"));
    }
    if usable.len() < total {
        tracing::warn!(
            usable = usable.len(),
            total,
            "AWS_CA_BUNDLE: some certificates cannot be trust anchors"
        );
    }
    Ok(usable)
}

/// One certificate as PEM, the form the SDK's trust store takes.
fn to_pem(cert: &CertificateDer<'_>) -> String {
    let body = base64::encode(cert.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn error_for(contents: &str) -> String {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(contents.as_bytes()).unwrap();
        tls_context(file.path()).unwrap_err().to_string()
    }

    #[test]
    fn a_missing_file_is_refused_naming_the_variable() {
        let error = tls_context(Path::new("/nonexistent/ca.pem")).unwrap_err().to_string();
        assert!(error.starts_with("AWS_CA_BUNDLE: /nonexistent/ca.pem: "), "{error}");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let error = error_for("not a certificate\n");
        assert!(error.starts_with("AWS_CA_BUNDLE: ") && error.contains("no PEM certificate"), "{error}");
    }

    #[test]
    fn broken_pem_is_refused() {
        let error = error_for("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        assert!(error.contains("is not a PEM file"), "{error}");
    }

    #[test]
    fn every_certificate_of_the_platform_bundle_is_trusted_as_pem() {
        // Debian's bundle (what AWS_CA_BUNDLE names on the project's machines); skipped elsewhere.
        let Ok(bundle) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") else { return };
        let anchors = anchors(&bundle).unwrap();
        let in_file = String::from_utf8_lossy(&bundle).matches("-----BEGIN CERTIFICATE-----").count();
        assert_eq!(anchors.len(), in_file);
        let round_trip: Vec<_> =
            anchors.iter().map(|c| CertificateDer::from_pem_slice(to_pem(c).as_bytes()).unwrap()).collect();
        assert_eq!(round_trip, anchors);
    }
}
