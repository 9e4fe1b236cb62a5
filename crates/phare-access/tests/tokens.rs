//! Token verification end to end: the dev issuer, the bad-token corpus, visas, passports,
//! leeway, JWKS fetching and key rotation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use phare_access::dev::{DEV_ISSUER, DevIssuer, TokenSpec};
use phare_access::testing::{
    FORGED_GRANT_DATASET, bad_tokens, forged_visa_token, untrusted_jku_visa_token, visa_with_conditions_token,
};
use phare_access::{
    AccessConfig, AuthError, Authenticator, Caller, CareRole, ResearchPurpose, Tier, TrustedIssuer,
    TrustedVisaIssuer,
};
use serde_json::{Value, json};
use tempfile::TempDir;

const RESEARCH: &str = "phare";
const CARE: &str = "phare-care";
const DATASET: &str = "https://phare.invalid/datasets/demo";

struct Setup {
    _dir: TempDir,
    dev: DevIssuer,
    authenticator: Authenticator,
}

fn setup() -> Setup {
    setup_with(AccessConfig::default())
}

fn setup_with(mut config: AccessConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::load_or_create(dir.path()).unwrap();
    let (issuer, visa_issuer) = dev.access_config();
    config.issuers.push(issuer);
    config.visa_issuers.push(visa_issuer);
    let authenticator = Authenticator::new(config).unwrap();
    Setup {
        _dir: dir,
        dev,
        authenticator,
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn authenticate(setup: &Setup, token: &str) -> Result<Caller, AuthError> {
    setup.authenticator.authenticate(Some(&bearer(token)), None).await
}

fn claims(subject: &str, audience: &str) -> Value {
    json!({"iss": DEV_ISSUER, "sub": subject, "aud": audience, "exp": now() + 600})
}

fn assert_no_token_in(error: &AuthError, token: &str) {
    assert!(!error.reason.contains(token), "{}", error.reason);
    for segment in token.split('.').filter(|segment| segment.len() >= 8) {
        assert!(
            !error.reason.contains(segment),
            "error text quotes the token: {}",
            error.reason
        );
    }
    assert_eq!(error.reason, error.reason.to_lowercase());
}

/// Each corpus entry must be refused for its own reason, not by accident of an earlier check.
const EXPECTED_REASONS: &[(&str, &str)] = &[
    ("alg none", "token algorithm not allowed"),
    (
        "hs256 with the public key pem as secret",
        "token algorithm not allowed",
    ),
    (
        "hs256 with the public jwk as secret",
        "token algorithm not allowed",
    ),
    ("wrong kid", "no trusted key has the token's kid"),
    (
        "untrusted jku with its own key",
        "no trusted key has the token's kid",
    ),
    ("embedded jwk with the dev kid", "invalid token signature"),
    ("expired", "token expired"),
    ("not yet valid", "token not yet valid"),
    ("issued in the future", "token issued in the future"),
    ("wrong iss", "token issuer is not trusted"),
    ("wrong aud", "token audience not accepted"),
    ("missing aud", "token has no aud"),
    ("missing exp", "token has no exp"),
    ("missing sub", "token has no sub"),
    ("missing iss", "token has no iss"),
    ("visa as access token", "a visa is not an access token"),
    ("fresh key with the dev kid", "invalid token signature"),
    ("truncated signature", "malformed token"),
    ("garbage", "malformed token header"),
    ("two segments", "invalid token"),
    ("oversized", "token too large"),
    (
        "rs256 against the es256 key",
        "token algorithm does not match the trusted key",
    ),
    (
        "critical header extension",
        "token header has critical extensions",
    ),
];

#[tokio::test]
async fn every_bad_token_is_refused_for_its_reason_without_quoting_it() {
    let setup = setup();
    let corpus = bad_tokens(&setup.dev, RESEARCH);
    assert_eq!(corpus.len(), EXPECTED_REASONS.len());
    for (name, token) in corpus {
        let expected = EXPECTED_REASONS
            .iter()
            .find(|(expected_name, _)| *expected_name == name)
            .map(|(_, reason)| *reason);
        match authenticate(&setup, &token).await {
            Ok(caller) => panic!("{name}: accepted as {caller:?}"),
            Err(error) => {
                assert_eq!(Some(error.reason.as_str()), expected, "{name}");
                assert_no_token_in(&error, &token);
            }
        }
    }
}

#[tokio::test]
async fn no_credentials_is_anonymous_but_bad_credentials_are_errors() {
    let setup = setup();
    let anonymous = setup.authenticator.authenticate(None, None).await.unwrap();
    assert_eq!(anonymous, Caller::anonymous());
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme", ""] {
        assert!(
            setup
                .authenticator
                .authenticate(Some(header), None)
                .await
                .is_err(),
            "{header:?}"
        );
    }
    let passport = setup.dev.mint(&claims("someone", RESEARCH)).unwrap();
    assert!(
        setup
            .authenticator
            .authenticate(None, Some(&passport))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_research_token_yields_its_visas_roles_and_purpose() {
    let setup = setup();
    let purpose = ResearchPurpose {
        codes: vec!["DUO:0000007".into()],
        disease: Some("MONDO:0005148".into()),
    };
    let spec = TokenSpec {
        roles: vec!["partner".into(), "admin".into(), "clinician".into()],
        bona_fide: true,
        grants: vec![DATASET.into()],
        purpose: Some(purpose.clone()),
        ..TokenSpec::new("researcher-1", RESEARCH)
    };
    let token = setup.dev.access_token(&spec).unwrap();
    let caller = authenticate(&setup, &token).await.unwrap();
    assert_eq!(caller.subject.as_deref(), Some("researcher-1"));
    assert_eq!(caller.issuer.as_deref(), Some(DEV_ISSUER));
    assert!(caller.bona_fide);
    assert_eq!(caller.grants.iter().collect::<Vec<_>>(), [DATASET]);
    // A research audience never gets care, whatever the roles say; and a person's issuer
    // cannot make a partner node (only registry entries' node tokens are partners).
    assert_eq!(caller.care, None);
    assert!(!caller.roles.partner && caller.roles.admin);
    assert_eq!(caller.roles.platform, None);
    assert_eq!(caller.purpose, Some(purpose));
    assert_eq!(caller.tier_for(DATASET), Tier::Controlled);
    assert_eq!(
        caller.tier_for("https://phare.invalid/datasets/other"),
        Tier::Registered
    );
    assert_eq!(caller.audit_subject(), format!("{DEV_ISSUER} researcher-1"));
}

#[tokio::test]
async fn one_bona_fide_visa_alone_is_not_enough() {
    let setup = setup();
    let carrier = setup
        .dev
        .access_token(&TokenSpec {
            bona_fide: true,
            ..TokenSpec::new("half", RESEARCH)
        })
        .unwrap();
    let visas = claim_of(&carrier, "ga4gh_passport_v1");
    let visas = visas.as_array().unwrap();
    assert_eq!(visas.len(), 2);
    for visa in visas {
        let mut access = claims("half", RESEARCH);
        access["ga4gh_passport_v1"] = json!([visa]);
        let caller = authenticate(&setup, &setup.dev.mint(&access).unwrap())
            .await
            .unwrap();
        assert!(!caller.bona_fide, "{visa}");
        assert_eq!(caller.highest_tier(), Tier::Public);
    }
}

#[tokio::test]
async fn care_needs_the_care_audience_a_clinician_role_and_a_centre() {
    let setup = setup();
    let spec = TokenSpec {
        roles: vec!["clinician".into()],
        care_centre: Some("CHU-Lyon".into()),
        ..TokenSpec::new("doctor-1", CARE)
    };
    let caller = authenticate(&setup, &setup.dev.access_token(&spec).unwrap())
        .await
        .unwrap();
    assert_eq!(
        caller.care,
        Some(CareRole {
            centre: "CHU-Lyon".into()
        })
    );
    assert_eq!(caller.tier_for(DATASET), Tier::Care);
    assert_eq!(caller.count_scope(), phare_access::CountScope::All);

    for incomplete in [
        TokenSpec {
            roles: vec!["clinician".into()],
            ..TokenSpec::new("doctor-2", CARE)
        },
        TokenSpec {
            care_centre: Some("CHU-Lyon".into()),
            ..TokenSpec::new("doctor-3", CARE)
        },
        TokenSpec {
            roles: vec!["clinician".into()],
            care_centre: Some(String::new()),
            ..TokenSpec::new("doctor-4", CARE)
        },
    ] {
        let error = authenticate(&setup, &setup.dev.access_token(&incomplete).unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.reason, "care token without clinician role and care centre");
    }
}

#[tokio::test]
async fn a_platform_role_needs_its_platform() {
    let setup = setup();
    let mut spec = TokenSpec {
        roles: vec!["platform".into()],
        ..TokenSpec::new("sequencer", RESEARCH)
    };
    assert!(
        authenticate(&setup, &setup.dev.access_token(&spec).unwrap())
            .await
            .is_err()
    );
    spec.platform = Some("SeqOIA".into());
    let caller = authenticate(&setup, &setup.dev.access_token(&spec).unwrap())
        .await
        .unwrap();
    assert_eq!(caller.roles.platform.as_deref(), Some("SeqOIA"));
}

#[tokio::test]
async fn malformed_phare_claims_are_refused() {
    let setup = setup();
    for (name, value) in [
        ("phare_roles", json!("admin")),
        ("phare_roles", json!([1])),
        ("phare_research_purpose", json!({"codes": ["DUO:0000006"]})),
        ("phare_research_purpose", json!("DUO:0000006")),
        ("ga4gh_passport_v1", json!("not-an-array")),
    ] {
        let mut token_claims = claims("someone", RESEARCH);
        token_claims[name] = value;
        let token = setup.dev.mint(&token_claims).unwrap();
        assert!(authenticate(&setup, &token).await.is_err(), "{name}");
    }
}

#[tokio::test]
async fn forged_conditional_and_untrusted_visas_are_dropped_not_fatal() {
    let setup = setup();
    for token in [
        forged_visa_token(&setup.dev, RESEARCH),
        visa_with_conditions_token(&setup.dev, RESEARCH),
        untrusted_jku_visa_token(&setup.dev, RESEARCH),
    ] {
        let caller = authenticate(&setup, &token).await.unwrap();
        assert!(caller.grants.is_empty(), "{caller:?}");
        assert_eq!(caller.tier_for(FORGED_GRANT_DATASET), Tier::Public);
    }
}

#[tokio::test]
async fn a_visa_about_someone_else_is_dropped() {
    let setup = setup();
    let others = setup
        .dev
        .access_token(&TokenSpec {
            grants: vec![DATASET.into()],
            ..TokenSpec::new("alice", RESEARCH)
        })
        .unwrap();
    let visas = claim_of(&others, "ga4gh_passport_v1");
    let mut mine = claims("bob", RESEARCH);
    mine["ga4gh_passport_v1"] = visas;
    let caller = authenticate(&setup, &setup.dev.mint(&mine).unwrap())
        .await
        .unwrap();
    assert!(caller.grants.is_empty());
}

fn claim_of(token: &str, name: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims[name].clone()
}

#[tokio::test]
async fn a_passport_header_adds_visas_of_the_same_subject() {
    let setup = setup();
    let carrier = setup
        .dev
        .access_token(&TokenSpec {
            bona_fide: true,
            ..TokenSpec::new("carol", RESEARCH)
        })
        .unwrap();
    let mut passport_claims = claims("carol", RESEARCH);
    passport_claims["ga4gh_passport_v1"] = claim_of(&carrier, "ga4gh_passport_v1");
    let passport = setup.dev.mint(&passport_claims).unwrap();
    let access = setup.dev.mint(&claims("carol", RESEARCH)).unwrap();

    let caller = setup
        .authenticator
        .authenticate(Some(&bearer(&access)), Some(&passport))
        .await
        .unwrap();
    assert!(caller.bona_fide);

    let someone_else = setup.dev.mint(&claims("dave", RESEARCH)).unwrap();
    assert!(
        setup
            .authenticator
            .authenticate(Some(&bearer(&someone_else)), Some(&passport))
            .await
            .is_err()
    );
    let mut wrong_audience = passport_claims.clone();
    wrong_audience["aud"] = json!("elsewhere");
    let wrong_audience = setup.dev.mint(&wrong_audience).unwrap();
    assert!(
        setup
            .authenticator
            .authenticate(Some(&bearer(&access)), Some(&wrong_audience))
            .await
            .is_err()
    );
    let no_visas = setup.dev.mint(&claims("carol", RESEARCH)).unwrap();
    assert!(
        setup
            .authenticator
            .authenticate(Some(&bearer(&access)), Some(&no_visas))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn leeway_applies_to_exp_and_nbf_up_to_its_bound() {
    let setup = setup_with(AccessConfig {
        leeway_seconds: 30,
        ..AccessConfig::default()
    });
    let with = |changes: Value| {
        let mut token_claims = claims("clock", RESEARCH);
        for (name, value) in changes.as_object().unwrap() {
            token_claims[name] = value.clone();
        }
        setup.dev.mint(&token_claims).unwrap()
    };
    let now = now();
    assert!(
        authenticate(&setup, &with(json!({"exp": now - 20})))
            .await
            .is_ok()
    );
    assert!(
        authenticate(&setup, &with(json!({"exp": now - 40})))
            .await
            .is_err()
    );
    assert!(
        authenticate(&setup, &with(json!({"nbf": now + 20})))
            .await
            .is_ok()
    );
    assert!(
        authenticate(&setup, &with(json!({"nbf": now + 40})))
            .await
            .is_err()
    );
    assert!(
        authenticate(&setup, &with(json!({"iat": now + 20})))
            .await
            .is_ok()
    );
    assert!(
        authenticate(&setup, &with(json!({"iat": now + 40})))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_token_with_a_list_of_audiences_needs_one_of_ours() {
    let setup = setup();
    let mut token_claims = claims("multi", RESEARCH);
    token_claims["aud"] = json!(["elsewhere", RESEARCH]);
    assert!(
        authenticate(&setup, &setup.dev.mint(&token_claims).unwrap())
            .await
            .is_ok()
    );
    token_claims["aud"] = json!(["elsewhere", "another"]);
    assert!(
        authenticate(&setup, &setup.dev.mint(&token_claims).unwrap())
            .await
            .is_err()
    );
}

/// A local JWKS endpoint over plain HTTP on the loopback address, counting its requests.
struct JwksServer {
    url: String,
    document: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(document: String) -> Self {
        let document = Arc::new(Mutex::new(document));
        let hits = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get({
                let document = Arc::clone(&document);
                let hits = Arc::clone(&hits);
                move || async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let body = document.lock().unwrap().clone();
                    ([("content-type", "application/json")], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{address}/jwks.json"),
            document,
            hits,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

const ROTATING_ISSUER: &str = "https://rotating.example";

fn url_config(url: &str, refresh_interval_seconds: u64) -> AccessConfig {
    AccessConfig {
        issuers: vec![TrustedIssuer {
            issuer: ROTATING_ISSUER.into(),
            jwks_file: None,
            jwks_url: Some(url.into()),
        }],
        jwks_refresh_interval_seconds: refresh_interval_seconds,
        ..AccessConfig::default()
    }
}

/// A token of the rotating issuer signed by `dev`'s key (whose JWKS the server serves).
fn rotating_token(dev: &DevIssuer, kid_override: Option<&str>) -> String {
    let mut token_claims = claims("rotor", RESEARCH);
    token_claims["iss"] = json!(ROTATING_ISSUER);
    let token = dev.mint(&token_claims).unwrap();
    let Some(kid) = kid_override else {
        return token;
    };
    // Only the header changes: the signature no longer matches, but the kid is what is
    // looked up first, and an unknown kid must never reach signature checking.
    let (_, rest) = token.split_once('.').unwrap();
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

fn jwks_of(dev: &DevIssuer) -> String {
    std::fs::read_to_string(dev.jwks_path()).unwrap()
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_per_interval() {
    let keys_dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::load_or_create(keys_dir.path()).unwrap();
    let server = JwksServer::start(jwks_of(&dev)).await;
    let authenticator = Authenticator::new(url_config(&server.url, 60)).unwrap();
    assert_eq!(server.hits(), 0, "keys are fetched lazily");

    let good = bearer(&rotating_token(&dev, None));
    authenticator.authenticate(Some(&good), None).await.unwrap();
    authenticator.authenticate(Some(&good), None).await.unwrap();
    assert_eq!(server.hits(), 1);

    let unknown = bearer(&rotating_token(&dev, Some("rotated-away")));
    for _ in 0..5 {
        assert!(authenticator.authenticate(Some(&unknown), None).await.is_err());
    }
    assert_eq!(server.hits(), 1, "the first fetch is within the interval");
}

#[tokio::test]
async fn a_key_withdrawn_from_a_fetched_jwks_stops_verifying_within_its_maximum_age() {
    let old_dir = tempfile::tempdir().unwrap();
    let new_dir = tempfile::tempdir().unwrap();
    let old = DevIssuer::load_or_create(old_dir.path()).unwrap();
    let new = DevIssuer::load_or_create(new_dir.path()).unwrap();
    let server = JwksServer::start(jwks_of(&old)).await;
    let authenticator = Authenticator::new(AccessConfig {
        jwks_max_age_seconds: 1,
        ..url_config(&server.url, 1)
    })
    .unwrap();
    // Each token is new (another subject), so none comes from the verified-caller cache.
    let token_of = |subject: &str| {
        let mut token_claims = claims(subject, RESEARCH);
        token_claims["iss"] = json!(ROTATING_ISSUER);
        bearer(&old.mint(&token_claims).unwrap())
    };
    authenticator
        .authenticate(Some(&token_of("a")), None)
        .await
        .unwrap();
    // The issuer withdraws the key: within the maximum age it still verifies…
    *server.document.lock().unwrap() = jwks_of(&new);
    authenticator
        .authenticate(Some(&token_of("b")), None)
        .await
        .unwrap();
    // …past it, the keys are fetched again and the withdrawn one is gone.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(
        authenticator
            .authenticate(Some(&token_of("c")), None)
            .await
            .is_err()
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn an_unknown_kid_picks_up_a_rotated_key() {
    let old_dir = tempfile::tempdir().unwrap();
    let new_dir = tempfile::tempdir().unwrap();
    let old = DevIssuer::load_or_create(old_dir.path()).unwrap();
    let new = DevIssuer::load_or_create(new_dir.path()).unwrap();
    let server = JwksServer::start(jwks_of(&old)).await;
    let authenticator = Authenticator::new(url_config(&server.url, 0)).unwrap();

    let old_token = bearer(&rotating_token(&old, None));
    authenticator.authenticate(Some(&old_token), None).await.unwrap();
    assert_eq!(server.hits(), 1);

    *server.document.lock().unwrap() = jwks_of(&new);
    let new_token = bearer(&rotating_token(&new, None));
    authenticator.authenticate(Some(&new_token), None).await.unwrap();
    assert_eq!(server.hits(), 2);
    // Known kids are served from the cache.
    authenticator.authenticate(Some(&new_token), None).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn an_unreachable_jwks_refuses_the_token() {
    let keys_dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::load_or_create(keys_dir.path()).unwrap();
    // Bind then drop a listener, so the port is very likely closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let authenticator = Authenticator::new(url_config(&url, 60)).unwrap();
    let token = bearer(&rotating_token(&dev, None));
    assert!(authenticator.authenticate(Some(&token), None).await.is_err());
}

#[tokio::test]
async fn visa_keys_can_be_fetched_from_the_jku() {
    let keys_dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::load_or_create(keys_dir.path()).unwrap();
    let server = JwksServer::start(jwks_of(&dev)).await;
    let (issuer, _) = dev.access_config();
    let config = AccessConfig {
        issuers: vec![issuer],
        // The dev visas name DEV_JKU, which is not this server: trusting the pair
        // (DEV_ISSUER, server URL) must not make them valid.
        visa_issuers: vec![TrustedVisaIssuer {
            issuer: DEV_ISSUER.into(),
            jku: server.url.clone(),
            jwks_file: None,
        }],
        ..AccessConfig::default()
    };
    let authenticator = Authenticator::new(config).unwrap();
    let token = dev
        .access_token(&TokenSpec {
            grants: vec![DATASET.into()],
            ..TokenSpec::new("visa-holder", RESEARCH)
        })
        .unwrap();
    let caller = authenticator
        .authenticate(Some(&bearer(&token)), None)
        .await
        .unwrap();
    assert!(caller.grants.is_empty());
    assert_eq!(server.hits(), 0, "no pair matched, so nothing is fetched");
}

#[tokio::test]
async fn rs256_issuers_verify_with_rs256_only() {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::traits::PublicKeyParts as _;

    let private_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let jwks = json!({"keys": [{
        "kty": "RSA", "kid": "rsa-1", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(private_key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(private_key.e().to_bytes_be()),
    }]});
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("rsa-jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    let authenticator = Authenticator::new(AccessConfig {
        issuers: vec![TrustedIssuer {
            issuer: "https://rsa.example".into(),
            jwks_file: Some(jwks_path),
            jwks_url: None,
        }],
        ..AccessConfig::default()
    })
    .unwrap();

    let mut token_claims = claims("rsa-user", RESEARCH);
    token_claims["iss"] = json!("https://rsa.example");
    let der = private_key.to_pkcs1_der().unwrap();
    let key = EncodingKey::from_rsa_der(der.as_bytes());
    let sign = |algorithm: Algorithm| {
        let mut header = Header::new(algorithm);
        header.kid = Some("rsa-1".into());
        encode(&header, &token_claims, &key).unwrap()
    };
    let caller = authenticator
        .authenticate(Some(&bearer(&sign(Algorithm::RS256))), None)
        .await
        .unwrap();
    assert_eq!(caller.subject.as_deref(), Some("rsa-user"));
    // Same key, other RSA algorithms: refused because the key says RS256.
    for algorithm in [Algorithm::RS512, Algorithm::PS256] {
        assert!(
            authenticator
                .authenticate(Some(&bearer(&sign(algorithm))), None)
                .await
                .is_err(),
            "{algorithm:?}"
        );
    }
    // ES256 header with the RSA key's kid: the key's algorithm wins.
    let es256_header = json!({"alg": "ES256", "typ": "JWT", "kid": "rsa-1"});
    let rs256 = sign(Algorithm::RS256);
    let (_, rest) = rs256.split_once('.').unwrap();
    let confused = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(es256_header.to_string()));
    assert!(
        authenticator
            .authenticate(Some(&bearer(&confused)), None)
            .await
            .is_err()
    );
}
