//! Tokens that must be refused, or accepted without the rights they pretend to carry, when
//! the [`DevIssuer`] is trusted (through [`DevIssuer::access_config`]) with the default
//! leeway and token size. Shared by this crate's tests and the server's HTTP tests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::dev::{DEV_ISSUER, DevIssuer, EcKey, now, visa_claims, visa_header};

/// The dataset URL the visa tokens below pretend to grant.
pub const FORGED_GRANT_DATASET: &str = "https://phare.invalid/datasets/demo";

/// The subject of every token in this module.
pub const TEST_SUBJECT: &str = "mallory";

/// Named tokens that [`crate::Authenticator::authenticate`] must refuse with an `AuthError`.
pub fn bad_tokens(dev: &DevIssuer, research_audience: &str) -> Vec<(&'static str, String)> {
    let key = dev.key();
    let fresh = EcKey::generate();
    let valid = valid_claims(research_audience);
    let with = |changes: Value| merge(&valid, &changes);
    let without = |claim: &str| {
        let mut claims = valid.clone();
        if let Some(object) = claims.as_object_mut() {
            object.remove(claim);
        }
        claims
    };
    let dev_header = dev.header();
    let good = key.sign(&dev_header, &valid);

    let mut visa = visa_claims(
        TEST_SUBJECT,
        "ControlledAccessGrants",
        FORGED_GRANT_DATASET,
        "dac",
        now() + 3600,
    );
    visa["aud"] = json!(research_audience);

    let mut padded = valid.clone();
    padded["padding"] = json!("x".repeat(17 * 1024));

    vec![
        (
            "alg none",
            unsigned(&json!({"alg": "none", "typ": "JWT", "kid": key.kid()}), &valid),
        ),
        (
            "hs256 with the public key pem as secret",
            hs256(key.kid(), key.public_pem().as_bytes(), &valid),
        ),
        (
            "hs256 with the public jwk as secret",
            hs256(key.kid(), key.public_jwk().to_string().as_bytes(), &valid),
        ),
        (
            "wrong kid",
            key.sign(
                &json!({"alg": "ES256", "typ": "JWT", "kid": "no-such-key"}),
                &valid,
            ),
        ),
        (
            "untrusted jku with its own key",
            fresh.sign(
                &json!({"alg": "ES256", "typ": "JWT", "kid": fresh.kid(),
                        "jku": "https://attacker.invalid/jwks.json"}),
                &valid,
            ),
        ),
        (
            "embedded jwk with the dev kid",
            fresh.sign(
                &json!({"alg": "ES256", "typ": "JWT", "kid": key.kid(), "jwk": fresh.public_jwk()}),
                &valid,
            ),
        ),
        (
            "expired",
            key.sign(&dev_header, &with(json!({"exp": now() - 3600}))),
        ),
        (
            "not yet valid",
            key.sign(&dev_header, &with(json!({"nbf": now() + 3600}))),
        ),
        (
            "issued in the future",
            key.sign(&dev_header, &with(json!({"iat": now() + 3600}))),
        ),
        (
            "wrong iss",
            key.sign(&dev_header, &with(json!({"iss": "https://attacker.invalid"}))),
        ),
        (
            "wrong aud",
            key.sign(&dev_header, &with(json!({"aud": "someone-else"}))),
        ),
        ("missing aud", key.sign(&dev_header, &without("aud"))),
        ("missing exp", key.sign(&dev_header, &without("exp"))),
        ("missing sub", key.sign(&dev_header, &without("sub"))),
        ("missing iss", key.sign(&dev_header, &without("iss"))),
        ("visa as access token", key.sign(&visa_header(key), &visa)),
        ("fresh key with the dev kid", fresh.sign(&dev_header, &valid)),
        ("truncated signature", truncated_signature(&good)),
        ("garbage", "not-a-jwt".to_owned()),
        (
            "two segments",
            good.rsplit_once('.')
                .map(|(message, _)| message.to_owned())
                .unwrap_or_default(),
        ),
        ("oversized", key.sign(&dev_header, &padded)),
        (
            "rs256 against the es256 key",
            forged_signature(
                &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()}),
                &valid,
                256,
            ),
        ),
        (
            "critical header extension",
            key.sign(
                &json!({"alg": "ES256", "typ": "JWT", "kid": key.kid(), "crit": ["exp"]}),
                &valid,
            ),
        ),
    ]
}

/// A valid access token whose `ControlledAccessGrants` visa is signed by a fresh key under
/// the dev `kid` and `jku`: it must authenticate, without the grant.
pub fn forged_visa_token(dev: &DevIssuer, audience: &str) -> String {
    let fresh = EcKey::generate();
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": dev.key().kid(),
                        "jku": crate::dev::DEV_JKU});
    token_with_visa(dev, audience, fresh.sign(&header, &grant_visa(None)))
}

/// A valid access token whose grant visa, properly signed, carries `conditions`: it must
/// authenticate, without the grant (conditions are not evaluated).
pub fn visa_with_conditions_token(dev: &DevIssuer, audience: &str) -> String {
    let conditions = json!([[{"type": "AffiliationAndRole", "value": "const:faculty@example.org",
                              "source": "https://example.org", "by": "so"}]]);
    let visa = dev
        .key()
        .sign(&visa_header(dev.key()), &grant_visa(Some(conditions)));
    token_with_visa(dev, audience, visa)
}

/// A valid access token whose grant visa, properly signed, names a `jku` that is not on the
/// allow-list: it must authenticate, without the grant.
pub fn untrusted_jku_visa_token(dev: &DevIssuer, audience: &str) -> String {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": dev.key().kid(),
                        "jku": "https://attacker.invalid/jwks.json"});
    token_with_visa(dev, audience, dev.key().sign(&header, &grant_visa(None)))
}

fn token_with_visa(dev: &DevIssuer, audience: &str, visa: String) -> String {
    let claims = merge(&valid_claims(audience), &json!({"ga4gh_passport_v1": [visa]}));
    dev.key().sign(&dev.header(), &claims)
}

fn grant_visa(conditions: Option<Value>) -> Value {
    let mut visa = visa_claims(
        TEST_SUBJECT,
        "ControlledAccessGrants",
        FORGED_GRANT_DATASET,
        "dac",
        now() + 3600,
    );
    if let Some(conditions) = conditions {
        visa["ga4gh_visa_v1"]["conditions"] = conditions;
    }
    visa
}

fn valid_claims(audience: &str) -> Value {
    let issued_at = now();
    json!({
        "iss": DEV_ISSUER,
        "sub": TEST_SUBJECT,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + 3600,
    })
}

fn merge(base: &Value, changes: &Value) -> Value {
    let mut merged = base.clone();
    if let (Some(target), Some(changes)) = (merged.as_object_mut(), changes.as_object()) {
        for (name, value) in changes {
            target.insert(name.clone(), value.clone());
        }
    }
    merged
}

fn encoded_message(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.", encoded_message(header, claims))
}

/// A token with a random signature of `length` bytes, for headers whose algorithm must be
/// refused before any signature check.
fn forged_signature(header: &Value, claims: &Value, length: usize) -> String {
    let mut signature = vec![0_u8; length];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut signature);
    format!(
        "{}.{}",
        encoded_message(header, claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// HS256 with a public key as the shared secret: the classic algorithm-confusion attack.
fn hs256(kid: &str, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    // Signing with a secret only fails on a broken crypto provider; an empty token is
    // refused all the same.
    encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap_or_default()
}

/// The token with its signature cut to a length no base64 text has (4n + 1 characters), so it
/// is malformed whatever the signature's bytes. Cutting a fixed 8 characters left a valid
/// base64 length, whose decoding failed only when the last character's spare bits were not
/// zero: 15 runs in 16.
fn truncated_signature(token: &str) -> String {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return token.to_owned();
    };
    let keep = (signature.len().saturating_sub(8) / 4) * 4 + 1;
    format!("{message}.{}", &signature[..keep.min(signature.len())])
}
