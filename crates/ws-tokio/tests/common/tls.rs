//! Test certificates and rustls configurations for the `wss://` tests (feature `tls`).
//!
//! Certificates are generated at run time with rcgen (ring), never checked in: a test CA
//! ([`TestCa`]) and end-entity certificates signed by it ([`TestCa::leaf`]). rustls refuses a
//! self-signed certificate that is also a CA as a server certificate
//! (`CaUsedAsEndEntity`), hence CA + leaf.
//!
//! Everything here depends only on `rcgen` and on rustls / tokio-rustls as re-exported by
//! `ws_tokio::tls`, so other crates' tests can include this file with
//! `#[path = "../../ws-tokio/tests/common/tls.rs"] mod tls;` (or change the `use` below).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use ws_tokio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ws_tokio::tls::{rustls, tokio_rustls};

/// The ALPN id of HTTP/1.1.
pub const HTTP11: &[u8] = b"http/1.1";

/// The ring provider, named explicitly so that the configs do not depend on the process
/// default (which would be ambiguous if another crate turned on aws-lc-rs).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority for tests.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate (DER): the trust anchor.
    pub cert: CertificateDer<'static>,
    /// The CA certificate (PEM), for peers that read files.
    pub pem: String,
}

/// An end-entity certificate and its key.
pub struct TestCert {
    /// The leaf certificate (DER); the chain a server presents is this alone (the CA is the
    /// trust anchor, not sent).
    pub cert: CertificateDer<'static>,
    /// The leaf certificate (PEM).
    pub cert_pem: String,
    /// The private key (PKCS#8 DER).
    pub key: PrivatePkcs8KeyDer<'static>,
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
}

impl TestCa {
    /// A fresh CA named `name` (its common name).
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            cert: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (DNS names, or IP addresses such as `127.0.0.1`,
    /// which become IP address SANs) signed by this CA.
    pub fn leaf(&self, names: &[&str]) -> TestCert {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        TestCert {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            key_pem: key.serialize_pem(),
        }
    }

    /// A root store holding this CA alone.
    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).expect("add the CA");
        roots
    }

    /// A client config trusting this CA alone, without ALPN (`connect_tls` adds `http/1.1`).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        Arc::new(self.client_config_with_alpn(&[]))
    }

    /// A client config trusting this CA alone, offering `alpn`.
    pub fn client_config_with_alpn(&self, alpn: &[&[u8]]) -> rustls::ClientConfig {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(self.roots())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }
}

impl TestCert {
    /// A server config presenting this certificate, choosing among `alpn`.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .expect("server certificate and key");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// An acceptor presenting this certificate, with ALPN `http/1.1`.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server_config(&[HTTP11]))
    }
}

/// A CA and a server certificate from it for `localhost` and `127.0.0.1`.
pub fn localhost() -> (TestCa, TestCert) {
    let ca = TestCa::new("sockudo-ws test CA");
    let cert = ca.leaf(&["localhost", "127.0.0.1"]);
    (ca, cert)
}

/// A file in the system's temporary directory, removed on drop (for peers that read PEM
/// files: Python's `ssl`, Node's `tls`).
pub struct TempFile {
    pub path: PathBuf,
}

impl TempFile {
    /// Writes `contents` to a new file whose name starts with `prefix`.
    pub fn new(prefix: &str, contents: &str) -> TempFile {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).expect("write temporary file");
        TempFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
