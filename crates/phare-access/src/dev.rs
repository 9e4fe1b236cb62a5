//! The local development issuer behind `phare dev token`: one ES256 (P-256) key kept in the
//! data directory, whose JWKS the demo configuration trusts for access tokens and, with
//! [`DEV_JKU`], for visas. Never trust it in production: whoever can read the key file can
//! mint any identity.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rand::Rng as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::{BONA_FIDE_VALUE, ResearchPurpose, TrustedIssuer, TrustedVisaIssuer};

pub const DEV_ISSUER: &str = "https://dev-issuer.phare.invalid";
pub const DEV_JKU: &str = "https://dev-issuer.phare.invalid/jwks.json";

const KEY_FILE: &str = "dev-issuer-key.pem";
const JWKS_FILE: &str = "dev-issuer-jwks.json";

#[derive(Debug, thiserror::Error)]
pub enum DevIssuerError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a PKCS#8 P-256 private key")]
    Key { path: PathBuf },
    #[error("{path} is readable by other users: run chmod 600 on it")]
    Exposed { path: PathBuf },
    #[error("claims must be a JSON object")]
    Claims,
}

/// A P-256 signing key with its RFC 7638 thumbprint as `kid`.
pub(crate) struct EcKey {
    secret: p256::SecretKey,
    kid: String,
}

impl EcKey {
    pub(crate) fn generate() -> Self {
        loop {
            let mut bytes = [0_u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            // Fails only for zero or values above the group order (probability ~2^-32).
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                return Self::from_secret(secret);
            }
        }
    }

    pub(crate) fn from_secret(secret: p256::SecretKey) -> Self {
        let (x, y) = coordinates(&secret);
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Self { secret, kid }
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK, as published in a JWKS.
    pub(crate) fn public_jwk(&self) -> Value {
        let (x, y) = coordinates(&self.secret);
        json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": self.kid, "alg": "ES256", "use": "sig"})
    }

    #[cfg(feature = "testing")]
    pub(crate) fn public_pem(&self) -> String {
        use p256::pkcs8::EncodePublicKey as _;
        self.secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// Signs exactly this header and these claims with ES256, whatever the header says: the
    /// bad-token corpus relies on it to forge headers.
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signing_key = p256::ecdsa::SigningKey::from(&self.secret);
        let signature: p256::ecdsa::Signature = signing_key.sign(message.as_bytes());
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

fn coordinates(secret: &p256::SecretKey) -> (String, String) {
    let point = secret.public_key().to_encoded_point(false);
    let encode = |coordinate: Option<&p256::FieldBytes>| {
        coordinate
            .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
            .unwrap_or_default()
    };
    (encode(point.x()), encode(point.y()))
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// What `phare dev token` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSpec {
    pub subject: String,
    pub audience: String,
    pub lifetime_seconds: u64,
    /// `phare_roles`: `clinician`, `platform`, `partner`, `admin`.
    pub roles: Vec<String>,
    pub care_centre: Option<String>,
    pub platform: Option<String>,
    /// Embed `AcceptedTermsAndPolicies` and `ResearcherStatus` visas.
    pub bona_fide: bool,
    /// Dataset URLs to embed `ControlledAccessGrants` visas for.
    pub grants: Vec<String>,
    pub purpose: Option<ResearchPurpose>,
}

impl TokenSpec {
    /// A one-hour token for `subject` with no role, visa or purpose.
    pub fn new(subject: &str, audience: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            audience: audience.to_owned(),
            lifetime_seconds: 3600,
            roles: Vec::new(),
            care_centre: None,
            platform: None,
            bona_fide: false,
            grants: Vec::new(),
            purpose: None,
        }
    }
}

pub struct DevIssuer {
    key: EcKey,
    jwks_path: PathBuf,
}

/// Shows the key id and JWKS path, never the private key.
impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DevIssuer")
            .field("kid", &self.key.kid)
            .field("jwks_path", &self.jwks_path)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Loads the key in `dir`, creating it (mode 0600) on first use, and (re)writes the JWKS
    /// beside it. Every call on the same directory gives the same key.
    pub fn load_or_create(dir: &Path) -> Result<Self, DevIssuerError> {
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| DevIssuerError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let key_path = dir.join(KEY_FILE);
        if !key_path.exists() {
            create_key_file(&key_path)?;
        }
        let key = read_key_file(&key_path)?;

        let jwks_path = dir.join(JWKS_FILE);
        let jwks = json!({"keys": [key.public_jwk()]});
        write_atomically(&jwks_path, jwks.to_string().as_bytes(), 0o644)?;
        Ok(Self { key, jwks_path })
    }

    pub fn jwks_path(&self) -> PathBuf {
        self.jwks_path.clone()
    }

    /// The configuration entries that trust this issuer: for access tokens, and for visas
    /// under [`DEV_JKU`]. Both read the keys from the JWKS file, never from the network.
    pub fn access_config(&self) -> (TrustedIssuer, TrustedVisaIssuer) {
        (
            TrustedIssuer {
                issuer: DEV_ISSUER.to_owned(),
                jwks_file: Some(self.jwks_path()),
                jwks_url: None,
            },
            TrustedVisaIssuer {
                issuer: DEV_ISSUER.to_owned(),
                jku: DEV_JKU.to_owned(),
                jwks_file: Some(self.jwks_path()),
            },
        )
    }

    /// Signs arbitrary claims (ES256, `kid` set); the caller adds `iss`, `aud`, `exp`, `sub`.
    pub fn mint(&self, claims: &Value) -> Result<String, DevIssuerError> {
        if !claims.is_object() {
            return Err(DevIssuerError::Claims);
        }
        Ok(self.key.sign(&self.header(), claims))
    }

    /// An access token for `spec`, with visas signed by the same key for `bona_fide` (both
    /// visas) and for each grant.
    pub fn access_token(&self, spec: &TokenSpec) -> Result<String, DevIssuerError> {
        let issued_at = now();
        let expires_at = issued_at + spec.lifetime_seconds;
        let mut claims = json!({
            "iss": DEV_ISSUER,
            "sub": spec.subject,
            "aud": spec.audience,
            "iat": issued_at,
            "exp": expires_at,
        });
        if !spec.roles.is_empty() {
            claims["phare_roles"] = json!(spec.roles);
        }
        if let Some(centre) = &spec.care_centre {
            claims["phare_care_centre"] = json!(centre);
        }
        if let Some(platform) = &spec.platform {
            claims["phare_platform"] = json!(platform);
        }
        if let Some(purpose) = &spec.purpose {
            claims["phare_research_purpose"] = json!(purpose);
        }
        let mut visas = Vec::new();
        if spec.bona_fide {
            for kind in ["AcceptedTermsAndPolicies", "ResearcherStatus"] {
                let visa = visa_claims(&spec.subject, kind, BONA_FIDE_VALUE, "so", expires_at);
                visas.push(self.key.sign(&visa_header(&self.key), &visa));
            }
        }
        for dataset in &spec.grants {
            let visa = visa_claims(
                &spec.subject,
                "ControlledAccessGrants",
                dataset,
                "dac",
                expires_at,
            );
            visas.push(self.key.sign(&visa_header(&self.key), &visa));
        }
        if !visas.is_empty() {
            claims["ga4gh_passport_v1"] = json!(visas);
        }
        self.mint(&claims)
    }

    #[cfg(feature = "testing")]
    pub(crate) fn key(&self) -> &EcKey {
        &self.key
    }

    pub(crate) fn header(&self) -> Value {
        json!({"alg": "ES256", "typ": "JWT", "kid": self.key.kid()})
    }
}

/// The header of a visa signed by `key` and published at [`DEV_JKU`].
pub(crate) fn visa_header(key: &EcKey) -> Value {
    json!({"alg": "ES256", "typ": "JWT", "kid": key.kid(), "jku": DEV_JKU})
}

/// The claims of a dev visa asserting `value` of type `kind`, asserted now.
pub(crate) fn visa_claims(subject: &str, kind: &str, value: &str, by: &str, expires_at: u64) -> Value {
    let issued_at = now();
    json!({
        "iss": DEV_ISSUER,
        "sub": subject,
        "iat": issued_at,
        "exp": expires_at,
        "ga4gh_visa_v1": {
            "type": kind,
            "value": value,
            "source": DEV_ISSUER,
            "by": by,
            "asserted": issued_at,
        },
    })
}

/// A private key file: refused when other users can read it, or when it is not a PKCS#8
/// P-256 key.
pub(crate) fn read_key_file(path: &Path) -> Result<EcKey, DevIssuerError> {
    let io_error = |source| DevIssuerError::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = fs::metadata(path).map_err(io_error)?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(DevIssuerError::Exposed {
            path: path.to_owned(),
        });
    }
    let pem = fs::read_to_string(path).map_err(|source| DevIssuerError::Io {
        path: path.to_owned(),
        source,
    })?;
    let secret = p256::SecretKey::from_pkcs8_pem(&pem).map_err(|_| DevIssuerError::Key {
        path: path.to_owned(),
    })?;
    Ok(EcKey::from_secret(secret))
}

/// Creates the key file without ever exposing a partial or world-readable key: written to a
/// private temporary file, then linked into place, which fails if another process won the
/// race (its key is then the one used).
fn create_key_file(key_path: &Path) -> Result<(), DevIssuerError> {
    write_key_file(key_path, &EcKey::generate())
}

/// Writes `key` as a private PKCS#8 file that did not exist; a file already there wins.
pub(crate) fn write_key_file(key_path: &Path, key: &EcKey) -> Result<(), DevIssuerError> {
    let pem = key
        .secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| DevIssuerError::Key {
            path: key_path.to_owned(),
        })?;
    let temporary = key_path.with_extension(format!("pem.{}.tmp", std::process::id()));
    write_new_file(&temporary, pem.as_bytes(), 0o600)?;
    let linked = fs::hard_link(&temporary, key_path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(DevIssuerError::Io {
            path: key_path.to_owned(),
            source,
        }),
    }
}

fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), DevIssuerError> {
    let io_error = |source| DevIssuerError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_error)?;
    file.write_all(contents).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

/// Readers of the JWKS (a server starting beside `phare dev token`) never see half a file.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), DevIssuerError> {
    let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&temporary);
    write_new_file(&temporary, contents, mode)?;
    fs::rename(&temporary, path).map_err(|source| DevIssuerError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = DevIssuer::load_or_create(dir.path()).unwrap();
        let second = DevIssuer::load_or_create(dir.path()).unwrap();
        assert_eq!(first.key.kid(), second.key.kid());
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let jwks: Value = serde_json::from_slice(&fs::read(first.jwks_path()).unwrap()).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], first.key.kid());
        assert_eq!(jwks["keys"][0]["alg"], "ES256");
        assert!(jwks["keys"][0].get("d").is_none(), "the JWKS must be public");
    }

    #[test]
    fn an_exposed_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        DevIssuer::load_or_create(dir.path()).unwrap();
        let key_path = dir.path().join(KEY_FILE);
        fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            DevIssuer::load_or_create(dir.path()),
            Err(DevIssuerError::Exposed { .. })
        ));
    }

    #[test]
    fn mint_refuses_claims_that_are_not_an_object() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::load_or_create(dir.path()).unwrap();
        assert!(matches!(issuer.mint(&json!([1])), Err(DevIssuerError::Claims)));
    }
}
