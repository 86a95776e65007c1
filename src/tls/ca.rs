//! brownout's local certificate authority: made on first use in the state
//! directory (`$BROWNOUT_HOME`, else the platform's data directory), it
//! issues the certificates of `tls = "auto"` listeners, and `brownout ca`
//! prints it for clients to trust.
//!
//! The authority is two files in `<state>/ca/`: `ca.pem` (the certificate,
//! safe to hand out) and `ca-key.pem` (its key, readable by its owner only).
//! Two processes making it at once cannot mix halves: each writes both files
//! into a directory of its own and renames that into place, and the loser
//! loads the winner's.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;

/// The variable that names the state directory.
pub const HOME_VAR: &str = "BROWNOUT_HOME";
/// How long the authority's certificate is valid.
const CA_DAYS: i64 = 3650;
/// How long an issued certificate is valid (under the 398 days browsers accept).
const LEAF_DAYS: i64 = 397;

/// Why the local authority could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("no state directory: set {HOME_VAR}, or HOME for the platform's data directory")]
    NoHome,
    #[error("local certificate authority: cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("local certificate authority at {}: {why}\n  hint: remove that directory to make a new authority (clients must then trust the new one)", dir.display())]
    Broken { dir: PathBuf, why: String },
    #[error("cannot issue a certificate for {names:?}: {why}")]
    Issue { names: Vec<String>, why: String },
}

/// The state directory: `$BROWNOUT_HOME`, else `$XDG_DATA_HOME/brownout`,
/// `~/.local/share/brownout` (Linux), `~/Library/Application Support/brownout`
/// (macOS) or `%APPDATA%\brownout` (Windows).
pub fn state_dir() -> Result<PathBuf, CaError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = var(HOME_VAR) {
        return Ok(home);
    }
    if cfg!(windows) {
        return var("APPDATA").map(|d| d.join("brownout")).ok_or(CaError::NoHome);
    }
    if cfg!(target_os = "macos") {
        return var("HOME").map(|h| h.join("Library/Application Support/brownout")).ok_or(CaError::NoHome);
    }
    if let Some(data) = var("XDG_DATA_HOME") {
        return Ok(data.join("brownout"));
    }
    var("HOME").map(|h| h.join(".local/share/brownout")).ok_or(CaError::NoHome)
}

/// The authority, loaded: its certificate and the key it signs with.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl LocalCa {
    /// The authority kept under `home` (the state directory), made first if
    /// there is none yet.
    pub fn open(home: &Path) -> Result<LocalCa, CaError> {
        let dir = home.join("ca");
        if !dir.join("ca.pem").exists() {
            create(home, &dir)?;
        }
        load(&dir)
    }

    /// Where the certificate is: the file clients trust.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A certificate and key for `names` (host names, `*.` wildcards or IP
    /// addresses), signed by this authority and valid from yesterday for
    /// 397 days.
    pub fn issue(&self, names: &[String]) -> Result<super::server::Identity, CaError> {
        let fail = |why: String| CaError::Issue { names: names.to_vec(), why };
        let key = KeyPair::generate().map_err(|e| fail(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.subject_alt_names = names.iter().map(|n| san(n)).collect::<Result<_, _>>().map_err(fail)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().map_or("brownout", String::as_str));
        dn.push(DnType::OrganizationName, "brownout");
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, LEAF_DAYS);
        let cert = params.signed_by(&key, &self.issuer).map_err(|e| fail(e.to_string()))?;
        let chain = vec![cert.der().clone(), self.cert_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = rustls::crypto::ring::default_provider();
        let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| fail(e.to_string()))?;
        Ok(super::server::Identity(Arc::new(certified)))
    }
}

/// The authority's name and powers. The same every time: an authority
/// loaded from its files is rebuilt from these and its key, and `load`
/// checks that what it signs verifies against the certificate on disk.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "brownout local certificate authority");
    dn.push(DnType::OrganizationName, "brownout");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

/// Valid from yesterday (clocks differ) for `days`.
fn set_validity(params: &mut CertificateParams, days: i64) {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let ymd = |d: jiff::civil::Date| rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8);
    let from = today.checked_sub(jiff::Span::new().days(1)).unwrap_or(today);
    let to = today.checked_add(jiff::Span::new().days(days)).unwrap_or(today);
    params.not_before = ymd(from);
    params.not_after = ymd(to);
}

fn san(name: &str) -> Result<SanType, String> {
    if let Ok(ip) = name.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let ia5 = name.to_string().try_into().map_err(|e: rcgen::Error| format!("{name:?}: {e}"))?;
    Ok(SanType::DnsName(ia5))
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CaError + 'a {
    move |source| CaError::Io { what, path: path.to_path_buf(), source }
}

/// Makes a new authority in a directory of its own and renames it to `dir`;
/// another process that got there first wins, and its authority is used.
fn create(home: &Path, dir: &Path) -> Result<(), CaError> {
    std::fs::create_dir_all(home).map_err(io_error("create", home))?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tmp = home.join(format!(".ca-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&tmp).map_err(io_error("create", &tmp))?;
    let made = (|| {
        let key = KeyPair::generate().map_err(|e| CaError::Broken { dir: dir.to_path_buf(), why: e.to_string() })?;
        let mut params = ca_params();
        set_validity(&mut params, CA_DAYS);
        let cert =
            params.self_signed(&key).map_err(|e| CaError::Broken { dir: dir.to_path_buf(), why: e.to_string() })?;
        write_private(&tmp.join("ca-key.pem"), &key.serialize_pem())?;
        let cert_path = tmp.join("ca.pem");
        std::fs::write(&cert_path, cert.pem()).map_err(io_error("write", &cert_path))
    })();
    let moved = made.and_then(|()| match std::fs::rename(&tmp, dir) {
        Ok(()) => Ok(()),
        // Someone else's authority is in place: theirs is used.
        Err(_) if dir.join("ca.pem").exists() => Ok(()),
        Err(e) => Err(CaError::Io { what: "create", path: dir.to_path_buf(), source: e }),
    });
    let _ = std::fs::remove_dir_all(&tmp);
    moved
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), CaError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io_error("create", path))?;
    file.write_all(text.as_bytes()).map_err(io_error("write", path))
}

fn load(dir: &Path) -> Result<LocalCa, CaError> {
    let broken = |why: String| CaError::Broken { dir: dir.to_path_buf(), why };
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca-key.pem");
    let cert_pem = std::fs::read_to_string(&cert_path).map_err(io_error("read", &cert_path))?;
    let key_pem = std::fs::read_to_string(&key_path).map_err(io_error("read", &key_path))?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| broken(format!("ca-key.pem is not a key: {e}")))?;
    let cert_der = {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| broken(format!("ca.pem is not a PEM certificate: {e}")))?
    };
    let ca = LocalCa { dir: dir.to_path_buf(), cert_pem, cert_der, issuer: Issuer::new(ca_params(), key) };
    ca.check().map_err(broken)?;
    Ok(ca)
}

impl LocalCa {
    /// Issues a certificate for `localhost` and verifies it against the
    /// certificate on disk, as a client would: a key that does not belong to
    /// the certificate, or a certificate of another name, fails here rather
    /// than in every client.
    fn check(&self) -> Result<(), String> {
        let issued = self.issue(&["localhost".to_string()]).map_err(|e| e.to_string())?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone()).map_err(|e| format!("ca.pem is not a usable authority: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        rustls::client::danger::ServerCertVerifier::verify_server_cert(
            verifier.as_ref(),
            &issued.0.cert[0],
            &issued.0.cert[1..],
            &name,
            &[],
            UnixTime::now(),
        )
        .map_err(|e| format!("ca-key.pem does not sign for ca.pem ({e})"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_home(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("brownout-ca-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_authority_is_made_once_and_loaded_after() {
        let home = temp_home("once");
        let first = LocalCa::open(&home).expect("made");
        let second = LocalCa::open(&home).expect("loaded");
        assert_eq!(first.cert_pem(), second.cert_pem());
        assert!(first.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.join("ca/ca-key.pem")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
        }
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn a_key_that_does_not_belong_to_the_certificate_is_refused_with_a_hint() {
        let (a, b) = (temp_home("mixed-a"), temp_home("mixed-b"));
        LocalCa::open(&a).expect("a");
        LocalCa::open(&b).expect("b");
        std::fs::copy(b.join("ca/ca-key.pem"), a.join("ca/ca-key.pem")).expect("swap keys");
        let err = LocalCa::open(&a).expect_err("a mismatched key").to_string();
        assert!(err.contains("does not sign for ca.pem"), "{err}");
        assert!(err.contains("hint: remove that directory"), "{err}");
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(&b);
    }

    #[test]
    fn processes_making_the_authority_at_once_end_up_with_the_same_one() {
        let home = temp_home("race");
        let pems: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..4).map(|_| s.spawn(|| LocalCa::open(&home).expect("open").cert_pem().to_string())).collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert!(pems.windows(2).all(|w| w[0] == w[1]), "different authorities were made");
        let _ = std::fs::remove_dir_all(&home);
    }
}
