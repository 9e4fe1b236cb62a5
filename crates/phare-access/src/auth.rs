//! Bearer tokens and GA4GH Passports to a [`Caller`]. Deny by default: every failure of the
//! access token (or of a passport header) refuses the request, and nothing ever falls back to
//! anonymous. A bad visa, on the other hand, is only dropped: visas add rights, so losing one
//! can only lower what the caller sees (docs/decisions/0019-token-verification.md).
//!
//! Visa `conditions` are not evaluated: a visa that carries any is dropped.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jwks::{JwksFetcher, KeyRefresh, KeyStore, check_jwks_url, read_jwks_file};
use crate::{BONA_FIDE_VALUE, Caller, CareRole, ResearchPurpose, ServiceRoles};

/// The HTTP header that may carry a GA4GH Passport beside the access token.
pub const PASSPORT_HEADER: &str = "x-ga4gh-passport";

/// Clock skew tolerated on `exp`, `nbf` and `iat`, at most (design contract).
const MAX_LEEWAY_SECONDS: u64 = 60;

const CLAIM_ROLES: &str = "phare_roles";
const CLAIM_CARE_CENTRE: &str = "phare_care_centre";
const CLAIM_PLATFORM: &str = "phare_platform";
const CLAIM_PURPOSE: &str = "phare_research_purpose";
const CLAIM_PASSPORT: &str = "ga4gh_passport_v1";
const CLAIM_VISA: &str = "ga4gh_visa_v1";

const ROLE_CLINICIAN: &str = "clinician";
const ROLE_PLATFORM: &str = "platform";
const ROLE_ADMIN: &str = "admin";

const VISA_TERMS: &str = "AcceptedTermsAndPolicies";
const VISA_RESEARCHER: &str = "ResearcherStatus";
const VISA_GRANT: &str = "ControlledAccessGrants";

/// Who is trusted to issue tokens, and how strictly they are checked.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// Issuers of access tokens (and of passport headers).
    #[serde(default)]
    pub issuers: Vec<TrustedIssuer>,
    /// The `(iss, jku)` pairs whose visas are trusted.
    #[serde(default)]
    pub visa_issuers: Vec<TrustedVisaIssuer>,
    #[serde(default = "default_research_audience")]
    pub research_audience: String,
    #[serde(default = "default_care_audience")]
    pub care_audience: String,
    /// At most 60.
    #[serde(default = "default_leeway_seconds")]
    pub leeway_seconds: u64,
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Minimum time between two fetches of one JWKS when tokens name unknown key ids.
    #[serde(default = "default_jwks_refresh_interval_seconds")]
    pub jwks_refresh_interval_seconds: u64,
    /// Fetched keys older than this are fetched again before use: a withdrawn key stops
    /// verifying within it (at least the refresh interval).
    #[serde(default = "default_jwks_max_age_seconds")]
    pub jwks_max_age_seconds: u64,
    /// Partner nodes of the federation registry whose node tokens are accepted (from
    /// `[[federation.partners]]`, not from `[access]`).
    #[serde(skip)]
    pub partners: Vec<PartnerIssuer>,
    /// The audience partner node tokens must name: this node's own API URL.
    #[serde(skip)]
    pub node_audience: Option<String>,
}

/// A partner node whose tokens are accepted: its issuer and where its published keys are.
/// Its callers are partners whatever their claims say, and nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerIssuer {
    /// The registry id: the partner caller's subject (`partner:<id>`), in budgets and audit rows.
    pub id: String,
    pub issuer: String,
    pub jwks_file: Option<PathBuf>,
    pub jwks_url: Option<String>,
}

fn default_research_audience() -> String {
    "phare".to_owned()
}

fn default_care_audience() -> String {
    "phare-care".to_owned()
}

fn default_leeway_seconds() -> u64 {
    30
}

fn default_max_token_bytes() -> usize {
    16 * 1024
}

fn default_jwks_refresh_interval_seconds() -> u64 {
    60
}

fn default_jwks_max_age_seconds() -> u64 {
    600
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            visa_issuers: Vec::new(),
            research_audience: default_research_audience(),
            care_audience: default_care_audience(),
            leeway_seconds: default_leeway_seconds(),
            max_token_bytes: default_max_token_bytes(),
            jwks_refresh_interval_seconds: default_jwks_refresh_interval_seconds(),
            jwks_max_age_seconds: default_jwks_max_age_seconds(),
            partners: Vec::new(),
            node_audience: None,
        }
    }
}

/// An issuer of access tokens; its keys come from exactly one of `jwks_file` and `jwks_url`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    pub issuer: String,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    #[serde(default)]
    pub jwks_url: Option<String>,
}

/// An issuer of visas, trusted only for visas whose header `jku` is this `jku`. Its keys come
/// from `jwks_file` if given, else from `jku` itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedVisaIssuer {
    pub issuer: String,
    pub jku: String,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessConfigError {
    #[error("leeway_seconds is {0}: at most {MAX_LEEWAY_SECONDS} is allowed")]
    LeewayTooLarge(u64),
    #[error("research_audience and care_audience must be different and non-empty")]
    Audiences,
    #[error("issuer {issuer}: give exactly one of jwks_file and jwks_url")]
    KeySource { issuer: String },
    #[error("issuer {issuer} is listed twice")]
    DuplicateIssuer { issuer: String },
    #[error("visa issuer {issuer} with jku {jku} is listed twice")]
    DuplicateVisaIssuer { issuer: String, jku: String },
    #[error("issuer {issuer}: JWKS file {path}: {reason}")]
    JwksFile {
        issuer: String,
        path: PathBuf,
        reason: String,
    },
    #[error("issuer {issuer}: {url}: {reason}")]
    JwksUrl {
        issuer: String,
        url: String,
        reason: String,
    },
    #[error("cannot fetch JWKS over HTTPS: {0}")]
    Https(String),
    #[error(
        "partner {partner}: its issuer {issuer} is also an [access] issuer: a node token would pass as a person's"
    )]
    PartnerIsIssuer { partner: String, issuer: String },
    #[error("partners are configured but this node has no audience for their tokens")]
    NodeAudience,
}

/// Why a request's credentials were refused. The reason is written for the caller and the
/// logs: it never quotes the token or any part of it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct AuthError {
    pub reason: String,
}

impl AuthError {
    fn new(reason: &str) -> Self {
        Self {
            reason: reason.to_owned(),
        }
    }
}

/// Verifies bearer tokens against the configured issuers. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut issuers: Vec<&String> = self.inner.issuers.keys().collect();
        issuers.sort();
        formatter
            .debug_struct("Authenticator")
            .field("issuers", &issuers)
            .field("visa_issuers", &self.inner.visa_issuers.len())
            .field("research_audience", &self.inner.research_audience)
            .field("care_audience", &self.inner.care_audience)
            .finish_non_exhaustive()
    }
}

struct Inner {
    issuers: HashMap<String, KeyStore>,
    /// Partner nodes by issuer: their registry id and keys.
    partners: HashMap<String, (String, KeyStore)>,
    node_audience: Option<String>,
    visa_issuers: HashMap<(String, String), KeyStore>,
    research_audience: String,
    care_audience: String,
    leeway_seconds: u64,
    max_token_bytes: usize,
    /// Only built when some keys come from a URL.
    fetcher: Option<JwksFetcher>,
    verified: crate::verified::VerifiedCallers,
}

impl Authenticator {
    /// Trusts no issuer: every caller without credentials is anonymous, every token is refused.
    pub fn anonymous_only() -> Self {
        let defaults = AccessConfig::default();
        Self {
            inner: Arc::new(Inner {
                issuers: HashMap::new(),
                partners: HashMap::new(),
                node_audience: None,
                visa_issuers: HashMap::new(),
                research_audience: defaults.research_audience,
                care_audience: defaults.care_audience,
                leeway_seconds: defaults.leeway_seconds,
                max_token_bytes: defaults.max_token_bytes,
                fetcher: None,
                verified: crate::verified::VerifiedCallers::default(),
            }),
        }
    }

    /// Checks the configuration and reads every JWKS file now, so that a typo fails at
    /// start-up; keys behind URLs are fetched on first use.
    pub fn new(config: AccessConfig) -> Result<Self, AccessConfigError> {
        if config.leeway_seconds > MAX_LEEWAY_SECONDS {
            return Err(AccessConfigError::LeewayTooLarge(config.leeway_seconds));
        }
        if config.research_audience.is_empty()
            || config.care_audience.is_empty()
            || config.research_audience == config.care_audience
        {
            return Err(AccessConfigError::Audiences);
        }
        let refresh_interval = KeyRefresh {
            interval: Duration::from_secs(config.jwks_refresh_interval_seconds),
            max_age: Duration::from_secs(
                config
                    .jwks_max_age_seconds
                    .max(config.jwks_refresh_interval_seconds),
            ),
        };

        let mut issuers = HashMap::new();
        for trusted in config.issuers {
            let store = match (&trusted.jwks_file, &trusted.jwks_url) {
                (Some(path), None) => fixed_store(&trusted.issuer, path)?,
                (None, Some(url)) => url_store(&trusted.issuer, url, refresh_interval)?,
                _ => {
                    return Err(AccessConfigError::KeySource {
                        issuer: trusted.issuer,
                    });
                }
            };
            if issuers.insert(trusted.issuer.clone(), store).is_some() {
                return Err(AccessConfigError::DuplicateIssuer {
                    issuer: trusted.issuer,
                });
            }
        }

        let mut partners = HashMap::new();
        for partner in config.partners {
            if issuers.contains_key(&partner.issuer) {
                return Err(AccessConfigError::PartnerIsIssuer {
                    partner: partner.id,
                    issuer: partner.issuer,
                });
            }
            let store = match (&partner.jwks_file, &partner.jwks_url) {
                (Some(path), None) => fixed_store(&partner.issuer, path)?,
                (None, Some(url)) => url_store(&partner.issuer, url, refresh_interval)?,
                _ => {
                    return Err(AccessConfigError::KeySource {
                        issuer: partner.issuer,
                    });
                }
            };
            if partners
                .insert(partner.issuer.clone(), (partner.id, store))
                .is_some()
            {
                return Err(AccessConfigError::DuplicateIssuer {
                    issuer: partner.issuer,
                });
            }
        }
        if !partners.is_empty() && config.node_audience.as_deref().is_none_or(str::is_empty) {
            return Err(AccessConfigError::NodeAudience);
        }

        let mut visa_issuers = HashMap::new();
        for trusted in config.visa_issuers {
            let store = match &trusted.jwks_file {
                Some(path) => fixed_store(&trusted.issuer, path)?,
                None => url_store(&trusted.issuer, &trusted.jku, refresh_interval)?,
            };
            let pair = (trusted.issuer, trusted.jku);
            if visa_issuers.contains_key(&pair) {
                let (issuer, jku) = pair;
                return Err(AccessConfigError::DuplicateVisaIssuer { issuer, jku });
            }
            visa_issuers.insert(pair, store);
        }

        let https_urls: Vec<&str> = issuers
            .values()
            .chain(visa_issuers.values())
            .chain(partners.values().map(|(_, store)| store))
            .filter_map(KeyStore::url)
            .filter(|url| url.to_ascii_lowercase().starts_with("https:"))
            .collect();
        let needs_fetcher = issuers
            .values()
            .chain(visa_issuers.values())
            .chain(partners.values().map(|(_, store)| store))
            .any(|store| store.url().is_some());
        let fetcher = if needs_fetcher {
            let (fetcher, root_count) = JwksFetcher::new().map_err(AccessConfigError::Https)?;
            if root_count == 0
                && let Some(url) = https_urls.first()
            {
                return Err(AccessConfigError::Https(format!(
                    "no system root certificates to verify {url}"
                )));
            }
            Some(fetcher)
        } else {
            None
        };

        Ok(Self {
            inner: Arc::new(Inner {
                issuers,
                partners,
                node_audience: config.node_audience,
                visa_issuers,
                research_audience: config.research_audience,
                care_audience: config.care_audience,
                leeway_seconds: config.leeway_seconds,
                max_token_bytes: config.max_token_bytes,
                fetcher,
                verified: crate::verified::VerifiedCallers::default(),
            }),
        })
    }

    /// `authorization`: the raw `Authorization` header value if any; `passport`: the raw
    /// `X-GA4GH-Passport` header value if any. No credentials at all is the anonymous caller;
    /// anything presented and not valid is an error.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        passport: Option<&str>,
    ) -> Result<Caller, AuthError> {
        let Some(authorization) = authorization else {
            if passport.is_some() {
                return Err(AuthError::new("a passport needs an access token"));
            }
            return Ok(Caller::anonymous());
        };
        let key = crate::verified::credentials_key(authorization, passport);
        let now = crate::verified::now_seconds();
        if let Some(caller) = self.inner.verified.get(&key, now) {
            return Ok(caller);
        }
        let token = bearer_token(authorization)?;
        if let Some(caller) = self.partner_caller(token).await? {
            if passport.is_some() {
                return Err(AuthError::new("a node token carries no passport"));
            }
            self.inner
                .verified
                .insert(key, &caller, std::iter::once(token), now);
            return Ok(caller);
        }
        let claims = self.verify_issued(token).await?;
        let caller = self.caller_from_claims(&claims)?;

        let mut visas: Vec<String> = embedded_visas(&claims)?;
        if let Some(passport) = passport {
            visas.extend(self.passport_visas(passport, &caller).await?);
        }
        let caller = self.apply_visas(caller, &visas).await;
        let tokens = std::iter::once(token)
            .chain(passport)
            .chain(visas.iter().map(String::as_str));
        self.inner.verified.insert(key, &caller, tokens, now);
        Ok(caller)
    }

    /// A token from a partner node of the registry, for this node's audience: a partner caller
    /// and nothing more (its roles, visas and other claims are not read). `None` when the
    /// token's issuer is not a partner.
    async fn partner_caller(&self, token: &str) -> Result<Option<Caller>, AuthError> {
        let inner = &self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(AuthError::new("token too large"));
        }
        let Some(issuer) = unverified_issuer(token) else {
            return Ok(None);
        };
        let (Some((partner, store)), Some(audience)) = (inner.partners.get(&issuer), &inner.node_audience)
        else {
            return Ok(None);
        };
        let header = RawHeader::parse(token).map_err(AuthError::new)?;
        let mut validation = self.validation(&issuer);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let claims = self
            .verify_signed(token, &header, store, validation)
            .await
            .map_err(AuthError::new)?;
        if non_empty_string(&claims, "sub").is_none() {
            return Err(AuthError::new("token sub must be a non-empty string"));
        }
        // Who the partner is comes from the registry, never from its claims: a partner cannot
        // reset its budget or pass for another by changing `sub`.
        Ok(Some(Caller {
            subject: Some(format!("partner:{partner}")),
            issuer: Some(issuer),
            roles: ServiceRoles {
                partner: true,
                ..ServiceRoles::default()
            },
            ..Caller::default()
        }))
    }

    /// Verifies a token signed by a trusted access-token issuer for one of our audiences:
    /// the access token itself, or a passport header.
    async fn verify_issued(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        let inner = &self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(AuthError::new("token too large"));
        }
        let header = RawHeader::parse(token).map_err(AuthError::new)?;
        let issuer = unverified_issuer(token).ok_or_else(|| AuthError::new("token has no iss"))?;
        let store = inner
            .issuers
            .get(&issuer)
            .ok_or_else(|| AuthError::new("token issuer is not trusted"))?;
        let mut validation = self.validation(&issuer);
        validation.set_audience(&[&inner.research_audience, &inner.care_audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let claims = self
            .verify_signed(token, &header, store, validation)
            .await
            .map_err(AuthError::new)?;
        if claims.contains_key(CLAIM_VISA) {
            return Err(AuthError::new("a visa is not an access token"));
        }
        Ok(claims)
    }

    fn validation(&self, issuer: &str) -> Validation {
        // The algorithm is replaced by the key's own in `verify_signed`.
        let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.leeway = self.inner.leeway_seconds;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation
    }

    /// Checks the signature with the store's key named by the header's `kid`, with the
    /// algorithm of that key, then the registered claims. `jku`, `x5u` and `jwk` headers are
    /// never used to find a key: keys only come from the configuration.
    async fn verify_signed(
        &self,
        token: &str,
        header: &RawHeader,
        store: &KeyStore,
        mut validation: Validation,
    ) -> Result<Map<String, Value>, &'static str> {
        let kid = header.kid.as_deref().ok_or("token header has no kid")?;
        let key = store
            .key(kid, self.inner.fetcher.as_ref())
            .await
            .ok_or("no trusted key has the token's kid")?;
        if header.alg != key.algorithm {
            return Err("token algorithm does not match the trusted key");
        }
        validation.algorithms = vec![key.algorithm];
        let claims = decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|error| describe(error.kind()))?
            .claims;
        if let Some(issued_at) = claims.get("iat") {
            let issued_at = issued_at.as_f64().ok_or("token iat is not a number")?;
            if issued_at > (now() + self.inner.leeway_seconds) as f64 {
                return Err("token issued in the future");
            }
        }
        Ok(claims)
    }

    fn caller_from_claims(&self, claims: &Map<String, Value>) -> Result<Caller, AuthError> {
        let inner = &self.inner;
        let subject = non_empty_string(claims, "sub")
            .ok_or_else(|| AuthError::new("token sub must be a non-empty string"))?;
        let issuer = non_empty_string(claims, "iss")
            .ok_or_else(|| AuthError::new("token iss must be a non-empty string"))?;
        let audiences = audiences(claims);
        let roles = string_array(claims, CLAIM_ROLES)
            .map_err(|()| AuthError::new("phare_roles must be an array of strings"))?;
        let has_role = |role: &str| roles.iter().any(|granted| granted == role);

        // Care is only for tokens minted for the care space: a research token never
        // carries it, whatever its roles say.
        let care = if audiences.contains(&inner.care_audience.as_str()) {
            match (
                has_role(ROLE_CLINICIAN),
                non_empty_string(claims, CLAIM_CARE_CENTRE),
            ) {
                (true, Some(centre)) => Some(CareRole { centre }),
                _ => {
                    return Err(AuthError::new(
                        "care token without clinician role and care centre",
                    ));
                }
            }
        } else {
            None
        };

        let platform = if has_role(ROLE_PLATFORM) {
            Some(
                non_empty_string(claims, CLAIM_PLATFORM)
                    .ok_or_else(|| AuthError::new("platform role without a phare_platform claim"))?,
            )
        } else {
            None
        };

        let purpose = claims
            .get(CLAIM_PURPOSE)
            .map(|purpose| serde_json::from_value::<ResearchPurpose>(purpose.clone()))
            .transpose()
            .map_err(|_| AuthError::new("malformed phare_research_purpose claim"))?;

        Ok(Caller {
            subject: Some(subject),
            issuer: Some(issuer),
            bona_fide: false,
            grants: BTreeSet::new(),
            care,
            roles: ServiceRoles {
                platform,
                // Partners are registry entries with node tokens, never a role a person's
                // issuer can grant.
                partner: false,
                admin: has_role(ROLE_ADMIN),
            },
            purpose,
        })
    }

    /// A passport header must come from the access token's own issuer and name the same
    /// subject: `sub` values are only comparable within one issuer.
    async fn passport_visas(&self, passport: &str, caller: &Caller) -> Result<Vec<String>, AuthError> {
        let claims = self.verify_issued(passport.trim()).await?;
        if non_empty_string(&claims, "iss") != caller.issuer
            || non_empty_string(&claims, "sub") != caller.subject
        {
            return Err(AuthError::new(
                "passport issuer or subject differs from the access token's",
            ));
        }
        if !claims.contains_key(CLAIM_PASSPORT) {
            return Err(AuthError::new("passport has no ga4gh_passport_v1 claim"));
        }
        embedded_visas(&claims)
    }

    async fn apply_visas(&self, mut caller: Caller, visas: &[String]) -> Caller {
        let Some(subject) = caller.subject.clone() else {
            return caller;
        };
        let mut accepted_terms = false;
        let mut researcher = false;
        for visa in visas {
            match self.verify_visa(visa, &subject).await {
                Ok(assertion) => match assertion.kind.as_str() {
                    VISA_TERMS if assertion.value == BONA_FIDE_VALUE => accepted_terms = true,
                    VISA_RESEARCHER if assertion.value == BONA_FIDE_VALUE => researcher = true,
                    VISA_GRANT => {
                        caller.grants.insert(assertion.value);
                    }
                    _ => {}
                },
                Err(reason) => tracing::debug!(reason, "dropped a visa"),
            }
        }
        caller.bona_fide = accepted_terms && researcher;
        caller
    }

    /// One visa: signed by the keys of its `(iss, jku)` pair from the allow-list, unexpired,
    /// about the caller, with a complete `ga4gh_visa_v1` claim and no conditions.
    async fn verify_visa(&self, visa: &str, subject: &str) -> Result<VisaAssertion, &'static str> {
        let inner = &self.inner;
        if visa.len() > inner.max_token_bytes {
            return Err("visa too large");
        }
        let header = RawHeader::parse(visa)?;
        let jku = header.jku.clone().ok_or("visa header has no jku")?;
        let issuer = unverified_issuer(visa).ok_or("visa has no iss")?;
        let store = inner
            .visa_issuers
            .get(&(issuer.clone(), jku))
            .ok_or("visa issuer and jku are not a trusted pair")?;
        let mut validation = self.validation(&issuer);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        let claims = self.verify_signed(visa, &header, store, validation).await?;
        if claims.get("sub").and_then(Value::as_str) != Some(subject) {
            return Err("visa subject differs from the access token's");
        }
        let assertion: RawVisa = claims
            .get(CLAIM_VISA)
            .cloned()
            .and_then(|visa| serde_json::from_value(visa).ok())
            .ok_or("malformed or missing ga4gh_visa_v1 claim")?;
        if assertion.conditions.is_some() {
            return Err("visa conditions are not evaluated");
        }
        if assertion.by.is_empty() || assertion.source.is_empty() {
            return Err("visa by and source must be non-empty");
        }
        if assertion.asserted > (now() + inner.leeway_seconds) as f64 {
            return Err("visa asserted in the future");
        }
        Ok(VisaAssertion {
            kind: assertion.kind,
            value: assertion.value,
        })
    }
}

/// The fields of `ga4gh_visa_v1` this server requires.
#[derive(Deserialize)]
struct RawVisa {
    #[serde(rename = "type")]
    kind: String,
    value: String,
    source: String,
    by: String,
    asserted: f64,
    #[serde(default)]
    conditions: Option<Value>,
}

struct VisaAssertion {
    kind: String,
    value: String,
}

/// The JOSE header fields we look at, read before any verification: only `alg` (checked
/// against the allow-list, then against the key), `kid` (key selection), `jku` (visa issuer
/// pair) and `crit`.
struct RawHeader {
    alg: jsonwebtoken::Algorithm,
    kid: Option<String>,
    jku: Option<String>,
}

impl RawHeader {
    fn parse(token: &str) -> Result<Self, &'static str> {
        #[derive(Deserialize)]
        struct Fields {
            alg: Option<String>,
            kid: Option<String>,
            jku: Option<String>,
            crit: Option<Value>,
        }
        let encoded = token.split('.').next().ok_or("malformed token header")?;
        let fields: Fields = URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or("malformed token header")?;
        // Critical header extensions must be understood or the token refused (RFC 7515).
        if fields.crit.is_some() {
            return Err("token header has critical extensions");
        }
        let alg = match fields.alg.as_deref() {
            Some("RS256") => jsonwebtoken::Algorithm::RS256,
            Some("ES256") => jsonwebtoken::Algorithm::ES256,
            _ => return Err("token algorithm not allowed"),
        };
        Ok(Self {
            alg,
            kid: fields.kid,
            jku: fields.jku,
        })
    }
}

fn bearer_token(authorization: &str) -> Result<&str, AuthError> {
    let malformed = || AuthError::new("authorization header must be \"Bearer <token>\"");
    let (scheme, token) = authorization.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim_start();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(malformed());
    }
    Ok(token)
}

/// The `iss` of a token before verification, only to pick which keys to verify it with.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidSignature => "invalid token signature",
        ErrorKind::InvalidAlgorithm => "token algorithm does not match the trusted key",
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not yet valid",
        ErrorKind::InvalidAudience => "token audience not accepted",
        ErrorKind::InvalidIssuer => "token issuer is not trusted",
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => "token has no exp",
            "sub" => "token has no sub",
            "iss" => "token has no iss",
            "aud" => "token has no aud",
            _ => "token lacks a required claim",
        },
        ErrorKind::InvalidClaimFormat(_) => "malformed token claim",
        ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => "malformed token",
        _ => "invalid token",
    }
}

fn embedded_visas(claims: &Map<String, Value>) -> Result<Vec<String>, AuthError> {
    let Some(passport) = claims.get(CLAIM_PASSPORT) else {
        return Ok(Vec::new());
    };
    let visas = passport
        .as_array()
        .ok_or_else(|| AuthError::new("ga4gh_passport_v1 must be an array"))?;
    // A non-string entry is one bad visa: dropped like any other.
    Ok(visas
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect())
}

fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(audience)) => vec![audience.as_str()],
        Some(Value::Array(audiences)) => audiences.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn non_empty_string(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// An absent claim is an empty list; anything but an array of strings is an error.
fn string_array(claims: &Map<String, Value>, name: &str) -> Result<Vec<String>, ()> {
    let Some(values) = claims.get(name) else {
        return Ok(Vec::new());
    };
    values
        .as_array()
        .ok_or(())?
        .iter()
        .map(|value| value.as_str().map(str::to_owned).ok_or(()))
        .collect()
}

fn fixed_store(issuer: &str, path: &std::path::Path) -> Result<KeyStore, AccessConfigError> {
    let keys = read_jwks_file(path).map_err(|reason| AccessConfigError::JwksFile {
        issuer: issuer.to_owned(),
        path: path.to_owned(),
        reason,
    })?;
    Ok(KeyStore::fixed(keys))
}

fn url_store(issuer: &str, url: &str, refresh_interval: KeyRefresh) -> Result<KeyStore, AccessConfigError> {
    check_jwks_url(url).map_err(|reason| AccessConfigError::JwksUrl {
        issuer: issuer.to_owned(),
        url: url.to_owned(),
        reason,
    })?;
    Ok(KeyStore::fetched(url.to_owned(), refresh_interval))
}

/// Seconds since the Unix epoch; a clock before 1970 reads as 0, which only makes tokens
/// look less expired than they are to jsonwebtoken's own check, which uses the same clock.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authenticator_can_be_shared_across_tasks() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
        fn assert_send<T: Send>(_: T) {}
        let authenticator = Authenticator::new(AccessConfig::default()).unwrap();
        assert_send_sync(&authenticator);
        assert_send(authenticator.authenticate(None, None));
    }

    #[test]
    fn only_bearer_authorization_is_accepted() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Ok("abc.def.ghi"));
        assert_eq!(bearer_token("bearer  abc.def.ghi "), Ok("abc.def.ghi"));
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "abc.def.ghi",
            "Bearer a b",
        ] {
            assert!(bearer_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn configuration_errors_name_the_problem() {
        let too_lenient = AccessConfig {
            leeway_seconds: 61,
            ..AccessConfig::default()
        };
        assert!(matches!(
            Authenticator::new(too_lenient),
            Err(AccessConfigError::LeewayTooLarge(61))
        ));

        let both_sources = AccessConfig {
            issuers: vec![TrustedIssuer {
                issuer: "https://issuer.example".into(),
                jwks_file: Some("jwks.json".into()),
                jwks_url: Some("https://issuer.example/jwks.json".into()),
            }],
            ..AccessConfig::default()
        };
        let error = Authenticator::new(both_sources).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("issuer https://issuer.example: give exactly one of jwks_file and jwks_url")
        );

        let missing_file = AccessConfig {
            issuers: vec![TrustedIssuer {
                issuer: "https://issuer.example".into(),
                jwks_file: Some("/nonexistent/jwks.json".into()),
                jwks_url: None,
            }],
            ..AccessConfig::default()
        };
        let error = Authenticator::new(missing_file)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("/nonexistent/jwks.json"), "{error}");
        assert!(error.contains("https://issuer.example"), "{error}");
    }

    #[test]
    fn plain_http_jwks_urls_are_refused_unless_loopback() {
        for (url, accepted) in [
            ("http://issuer.example/jwks.json", false),
            ("http://10.0.0.1/jwks.json", false),
            ("http://127.0.0.1:1/jwks.json", true),
        ] {
            let config = AccessConfig {
                issuers: vec![TrustedIssuer {
                    issuer: "https://issuer.example".into(),
                    jwks_file: None,
                    jwks_url: Some(url.into()),
                }],
                ..AccessConfig::default()
            };
            assert_eq!(Authenticator::new(config).is_ok(), accepted, "{url}");
        }
        let visa_config = AccessConfig {
            visa_issuers: vec![TrustedVisaIssuer {
                issuer: "https://visas.example".into(),
                jku: "http://visas.example/jwks.json".into(),
                jwks_file: None,
            }],
            ..AccessConfig::default()
        };
        assert!(matches!(
            Authenticator::new(visa_config),
            Err(AccessConfigError::JwksUrl { .. })
        ));
    }

    #[test]
    fn the_configuration_refuses_unknown_fields_and_has_defaults() {
        let config: AccessConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config.research_audience, "phare");
        assert_eq!(config.care_audience, "phare-care");
        assert_eq!(config.leeway_seconds, 30);
        assert_eq!(config.max_token_bytes, 16384);
        assert_eq!(config.jwks_refresh_interval_seconds, 60);
        assert!(serde_json::from_str::<AccessConfig>(r#"{"leeway": 5}"#).is_err());
    }
}
