//! TLS on brownout's own listeners: rustls server settings offering HTTP/2
//! and HTTP/1.1 by ALPN, with a certificate read from files or issued by
//! the local authority.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// A certificate chain and its key, as a listener presents them.
#[derive(Debug, Clone)]
pub struct Identity(pub Arc<CertifiedKey>);

// A certified key never changes once made (its signing key is immutable),
// so a panic cannot leave one half-updated: configs that hold one stay
// safe to use across `catch_unwind`, as they were before listeners had keys.
impl std::panic::RefUnwindSafe for Identity {}
impl std::panic::UnwindSafe for Identity {}

/// ALPN's names for the protocols a listener speaks, preferred first.
pub const ALPN_H2: &[u8] = b"h2";
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Reads a certificate chain (PEM, leaf first) and its private key (PEM:
/// PKCS#8, PKCS#1 or SEC1), and checks that the key is the leaf's.
pub fn read_identity(cert_file: &Path, key_file: &Path) -> Result<Identity, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("{} cannot be read: {e}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} is not valid PEM: {e}", cert_file.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no certificate", cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!("{} holds no private key", key_file.display()),
        e => format!("{} holds no readable private key: {e}", key_file.display()),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            format!("the key in {} is not the key of the certificate in {}", key_file.display(), cert_file.display())
        }
        e => format!("{} and {} cannot be used: {e}", cert_file.display(), key_file.display()),
    })?;
    Ok(Identity(Arc::new(certified)))
}

/// Server settings that present `identity` and offer `h2` and `http/1.1`.
pub fn server_config(identity: Identity) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls setup failed: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(One(identity.0)));
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// The one certificate a listener has, whatever name the client asks for.
#[derive(Debug)]
struct One(Arc<CertifiedKey>);

impl ResolvesServerCert for One {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
