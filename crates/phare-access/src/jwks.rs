//! Trusted verification keys: parsed from JWKS documents that are read from files at start-up
//! or fetched over HTTPS on first use, and refetched (rate-limited) when a token names a key id
//! the cached set does not have, which is how issuers rotate keys.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::Uri;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// A JWKS fetch gives up after this long, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS document larger than this is refused unread.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// One trusted public key. The algorithm it verifies is fixed here, from the JWK, so a token
/// header can never choose it.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    pub(crate) kid: String,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// Parses a JWKS document, keeping only the keys this server can verify: P-256 keys for
/// ES256 and RSA keys for RS256, with a `kid` (tokens select keys by `kid`), for signing use.
/// Other keys (encryption keys, other curves, `alg` values we refuse) are skipped, not errors,
/// because issuers publish them side by side with signing keys.
pub(crate) fn parse_jwks(document: &[u8]) -> Result<Vec<Arc<VerificationKey>>, String> {
    let document: Value =
        serde_json::from_slice(document).map_err(|error| format!("not a JWKS document: {error}"))?;
    let Some(keys) = document.get("keys").and_then(Value::as_array) else {
        return Err("not a JWKS document: no \"keys\" array".to_owned());
    };
    Ok(keys.iter().filter_map(verification_key).map(Arc::new).collect())
}

fn verification_key(jwk: &Value) -> Option<VerificationKey> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kid = field("kid")?;
    if field("use").is_some_and(|key_use| key_use != "sig") {
        return None;
    }
    let declared_algorithm = field("alg");
    match field("kty")? {
        "EC" => {
            if field("crv")? != "P-256" || declared_algorithm.is_some_and(|alg| alg != "ES256") {
                return None;
            }
            let (x, y) = (field("x")?, field("y")?);
            // jsonwebtoken takes the coordinates as they come: check they form a point on
            // the curve so a malformed key is skipped here rather than failing every token.
            let mut point = vec![0x04];
            point.extend(URL_SAFE_NO_PAD.decode(x).ok()?);
            point.extend(URL_SAFE_NO_PAD.decode(y).ok()?);
            p256::PublicKey::from_sec1_bytes(&point).ok()?;
            Some(VerificationKey {
                kid: kid.to_owned(),
                algorithm: Algorithm::ES256,
                key: DecodingKey::from_ec_components(x, y).ok()?,
            })
        }
        "RSA" => {
            if declared_algorithm.is_some_and(|alg| alg != "RS256") {
                return None;
            }
            Some(VerificationKey {
                kid: kid.to_owned(),
                algorithm: Algorithm::RS256,
                key: DecodingKey::from_rsa_components(field("n")?, field("e")?).ok()?,
            })
        }
        _ => None,
    }
}

pub(crate) fn read_jwks_file(path: &Path) -> Result<Vec<Arc<VerificationKey>>, String> {
    let document = std::fs::read(path).map_err(|error| format!("cannot read: {error}"))?;
    let keys = parse_jwks(&document)?;
    if keys.is_empty() {
        return Err("no usable ES256 (P-256) or RS256 signing key with a kid".to_owned());
    }
    Ok(keys)
}

/// JWKS URLs must be HTTPS: a key fetched in clear could be swapped by anyone on the path.
/// Plain HTTP is allowed for loopback addresses only, so tests can serve keys locally.
pub(crate) fn check_jwks_url(url: &str) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|error| format!("not a valid URL: {error}"))?;
    let Some(host) = uri.host().filter(|host| !host.is_empty()) else {
        return Err("URL has no host".to_owned());
    };
    if uri
        .authority()
        .is_some_and(|authority| authority.as_str().contains('@'))
    {
        return Err("URL must not carry credentials".to_owned());
    }
    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => Ok(()),
        Some("http") if ["127.0.0.1", "localhost", "[::1]", "::1"].contains(&host) => Ok(()),
        _ => Err("URL must be https:// (http:// only for 127.0.0.1, localhost or [::1])".to_owned()),
    }
}

/// TLS for calls this node makes (JWKS documents, partner nodes): rustls with the ring
/// provider passed explicitly and the system's root certificates. Also returns how many roots
/// were loaded (unreadable certificates are skipped), so callers can refuse HTTPS on a system
/// that has none.
pub fn tls_client_config() -> Result<(rustls::ClientConfig, usize), String> {
    let mut roots = rustls::RootCertStore::empty();
    let (root_count, _) = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("cannot configure TLS: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((tls, root_count))
}

/// The HTTP(S) client for JWKS documents: rustls with the ring provider and the system's
/// root certificates, HTTP/1.1, no redirects.
pub(crate) struct JwksFetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl JwksFetcher {
    /// Also returns how many system root certificates were loaded, so that the caller can
    /// refuse HTTPS sources on a system that has none.
    pub(crate) fn new() -> Result<(Self, usize), String> {
        let (tls, root_count) = tls_client_config()?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok((Self { client }, root_count))
    }

    async fn fetch(&self, url: &str) -> Result<Vec<Arc<VerificationKey>>, String> {
        let uri: Uri = url.parse().map_err(|error| format!("bad URL: {error}"))?;
        let exchange = async {
            let response = self
                .client
                .get(uri)
                .await
                .map_err(|error| format!("request failed: {error}"))?;
            if response.status() != hyper::StatusCode::OK {
                return Err(format!("status {}", response.status()));
            }
            let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map_err(|error| format!("cannot read the body: {error}"))?;
            Ok(body.to_bytes())
        };
        let body = tokio::time::timeout(FETCH_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {} s", FETCH_TIMEOUT.as_secs()))??;
        parse_jwks(&body)
    }
}

/// The keys of one trusted issuer (or one visa issuer and `jku` pair).
pub(crate) struct KeyStore {
    /// Where to fetch the keys from; `None` for keys read from a file, which never change.
    url: Option<String>,
    refresh: KeyRefresh,
    state: tokio::sync::Mutex<KeyState>,
}

#[derive(Default)]
struct KeyState {
    keys: Vec<Arc<VerificationKey>>,
    /// When the last fetch was attempted, successful or not: a failing issuer is not retried
    /// more often than a rotating one.
    fetched_at: Option<Instant>,
}

/// How fetched keys are kept fresh.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyRefresh {
    /// Least time between two fetches prompted by an unknown key id.
    pub(crate) interval: Duration,
    /// Fetched keys are refetched once this old, even when the key asked for is known: a key
    /// the issuer withdrew (a retired or compromised node key) stops verifying within it.
    pub(crate) max_age: Duration,
}

impl KeyStore {
    pub(crate) fn fixed(keys: Vec<Arc<VerificationKey>>) -> Self {
        Self {
            url: None,
            refresh: KeyRefresh {
                interval: Duration::ZERO,
                max_age: Duration::MAX,
            },
            state: tokio::sync::Mutex::new(KeyState {
                keys,
                fetched_at: None,
            }),
        }
    }

    pub(crate) fn fetched(url: String, refresh: KeyRefresh) -> Self {
        Self {
            url: Some(url),
            refresh,
            state: tokio::sync::Mutex::default(),
        }
    }

    pub(crate) fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The key with this `kid`. A `kid` missing from a fetched set triggers one refetch, at
    /// most once per refresh interval per store; the lock is held across the fetch so that
    /// concurrent requests wait for it instead of fetching again.
    pub(crate) async fn key(&self, kid: &str, fetcher: Option<&JwksFetcher>) -> Option<Arc<VerificationKey>> {
        let mut state = self.state.lock().await;
        let stale = self.url.is_some()
            && state
                .fetched_at
                .is_some_and(|fetched_at| fetched_at.elapsed() >= self.refresh.max_age);
        if !stale && let Some(key) = state.keys.iter().find(|key| key.kid == kid) {
            return Some(Arc::clone(key));
        }
        let (Some(url), Some(fetcher)) = (self.url.as_deref(), fetcher) else {
            return None;
        };
        if !stale
            && state
                .fetched_at
                .is_some_and(|fetched_at| fetched_at.elapsed() < self.refresh.interval)
        {
            return None;
        }
        state.fetched_at = Some(Instant::now());
        match fetcher.fetch(url).await {
            Ok(keys) => state.keys = keys,
            Err(reason) => tracing::warn!(url, %reason, "cannot fetch JWKS"),
        }
        state.keys.iter().find(|key| key.kid == kid).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_urls_are_accepted() {
        for good in [
            "https://issuer.example/jwks.json",
            "HTTPS://issuer.example/jwks",
            "http://127.0.0.1:8080/jwks.json",
            "http://localhost/jwks.json",
            "http://[::1]:9000/jwks.json",
        ] {
            assert_eq!(check_jwks_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://issuer.example/jwks.json",
            "http://127.0.0.2/jwks.json",
            "http://localhost.evil.example/jwks.json",
            "http://localhost@evil.example/jwks.json",
            "https://user@issuer.example/jwks.json",
            "ftp://issuer.example/jwks.json",
            "file:///etc/jwks.json",
            "/jwks.json",
            "not a url",
        ] {
            assert!(check_jwks_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_that_cannot_verify_es256_or_rs256_are_skipped() {
        let document = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "kid": "bad-point", "x": "AAAA", "y": "AAAA"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "ps256", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "rs256", "n": "AQAB", "e": "AQAB"},
        ]});
        let keys = parse_jwks(document.to_string().as_bytes()).unwrap();
        let kids: Vec<&str> = keys.iter().map(|key| key.kid.as_str()).collect();
        assert_eq!(kids, ["rs256"]);
        assert_eq!(keys[0].algorithm, Algorithm::RS256);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"not json").is_err());
    }
}
