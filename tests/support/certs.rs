//! Throwaway PKI made with rcgen: a CA plus a server certificate for the TLS registry, and
//! the self-signed ES256 signing certificate of the token server.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// PEM files written into a directory.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate clients must trust (pass to `--ca-file`).
    pub ca_cert: PathBuf,
    /// Server certificate (for 127.0.0.1 and localhost) and its key.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Writes `ca.pem`, `server.pem`, `server-key.pem` into `dir`.
pub fn write_tls_files(dir: &Path) -> TlsFiles {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "tf-pin test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");

    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = Issuer::new(ca, &ca_key);
    let cert = params.signed_by(&key, &issuer).expect("server cert");

    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
    };
    std::fs::write(&files.ca_cert, ca_cert.pem()).unwrap();
    std::fs::write(&files.server_cert, cert.pem()).unwrap();
    std::fs::write(&files.server_key, key.serialize_pem()).unwrap();
    files
}

/// A P-256 key and its self-signed certificate, for signing JWTs.
pub struct SigningCert {
    /// DER of the self-signed certificate (goes into the JWT `x5c` header).
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
    /// PKCS#8 DER of the private key.
    pub key_pkcs8: Vec<u8>,
}

pub fn signing_cert(common_name: &str) -> SigningCert {
    let key = KeyPair::generate().expect("signing key");
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).expect("signing cert");
    SigningCert {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key_pkcs8: key.serialize_der(),
    }
}
