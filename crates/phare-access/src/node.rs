//! The node's own identity in the federation: the ES256 keys it signs node-to-node tokens with,
//! kept in a directory of the data directory and published as a JWKS
//! (docs/decisions/0045-node-tokens-and-published-keys.md).
//!
//! Each key file is `node-key-<activation>.pem` (Unix seconds): the node signs with the newest
//! key whose activation time has passed, and publishes every key of the directory. Rotation
//! without downtime is therefore: add a key that activates later (`phare node rotate-key`),
//! so partners see it in the JWKS before any token carries it, then retire the old key once
//! no token signed with it can still be valid (`phare node retire-key`). A running server
//! notices the directory changed within a second; nothing restarts.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::dev::{DevIssuerError, EcKey, now, read_key_file, write_key_file};

const PREFIX: &str = "node-key-";
const SUFFIX: &str = ".pem";

/// How often a serving node looks at its key directory for a rotation.
const RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum NodeKeyError {
    #[error(transparent)]
    File(#[from] DevIssuerError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no node key has the id {kid}")]
    UnknownKey { kid: String },
    #[error("key {kid} is the one this node signs with now: rotate first, then retire it")]
    KeyInUse { kid: String },
}

/// One key of the ring, with when it starts signing.
struct NodeKey {
    key: EcKey,
    activation: u64,
    path: PathBuf,
}

/// Every key of the node's key directory, oldest activation first.
pub struct NodeKeyRing {
    keys: Vec<NodeKey>,
}

impl std::fmt::Debug for NodeKeyRing {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|key| key.key.kid()).collect();
        formatter
            .debug_struct("NodeKeyRing")
            .field("kids", &kids)
            .finish()
    }
}

/// What `phare node keys` shows of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeKeyInfo {
    pub kid: String,
    pub activation: u64,
    pub signing: bool,
}

impl NodeKeyRing {
    /// The keys of `dir`, creating the directory and a first key (active at once) when there
    /// is none.
    pub fn open(dir: &Path) -> Result<Self, NodeKeyError> {
        fs::create_dir_all(dir).map_err(|source| NodeKeyError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let ring = Self::read(dir)?;
        if !ring.keys.is_empty() {
            return Ok(ring);
        }
        write_key_file(&key_path(dir, now()), &EcKey::generate())?;
        Self::read(dir)
    }

    fn read(dir: &Path) -> Result<Self, NodeKeyError> {
        let entries = fs::read_dir(dir).map_err(|source| NodeKeyError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| NodeKeyError::Io {
                path: dir.to_owned(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(activation) = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.strip_suffix(SUFFIX))
                .and_then(|digits| digits.parse::<u64>().ok())
            else {
                continue;
            };
            let path = entry.path();
            keys.push(NodeKey {
                key: read_key_file(&path)?,
                activation,
                path,
            });
        }
        keys.sort_by_key(|key| key.activation);
        Ok(Self { keys })
    }

    /// The key tokens are signed with at `at`: the newest already active.
    fn signing_key(&self, at: u64) -> Option<&NodeKey> {
        self.keys
            .iter()
            .rev()
            .find(|key| key.activation <= at)
            .or_else(|| self.keys.first())
    }

    /// The public keys, all of them: a key about to activate must be known to partners before
    /// a token carries it, and a retiring one until its last token expires.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys.iter().map(|key| key.key.public_jwk()).collect();
        json!({ "keys": keys })
    }

    pub fn keys(&self) -> Vec<NodeKeyInfo> {
        let signing = self.signing_key(now()).map(|key| key.key.kid().to_owned());
        self.keys
            .iter()
            .map(|key| NodeKeyInfo {
                kid: key.key.kid().to_owned(),
                activation: key.activation,
                signing: signing.as_deref() == Some(key.key.kid()),
            })
            .collect()
    }

    /// Adds a key that starts signing `delay` from now; returns its id.
    pub fn rotate(dir: &Path, delay: Duration) -> Result<String, NodeKeyError> {
        Self::open(dir)?;
        let key = EcKey::generate();
        let kid = key.kid().to_owned();
        let mut activation = now().saturating_add(delay.as_secs());
        // Two rotations in one second must not collide on the file name.
        while key_path(dir, activation).exists() {
            activation += 1;
        }
        write_key_file(&key_path(dir, activation), &key)?;
        Ok(kid)
    }

    /// Removes a key that no longer signs.
    pub fn retire(dir: &Path, kid: &str) -> Result<(), NodeKeyError> {
        let ring = Self::open(dir)?;
        let key = ring
            .keys
            .iter()
            .find(|key| key.key.kid() == kid)
            .ok_or_else(|| NodeKeyError::UnknownKey { kid: kid.to_owned() })?;
        if ring
            .signing_key(now())
            .is_some_and(|signing| signing.key.kid() == kid)
        {
            return Err(NodeKeyError::KeyInUse { kid: kid.to_owned() });
        }
        fs::remove_file(&key.path).map_err(|source| NodeKeyError::Io {
            path: key.path.clone(),
            source,
        })
    }
}

fn key_path(dir: &Path, activation: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{activation:012}{SUFFIX}"))
}

/// What a node-to-node token says: who signs (`issuer`, `subject`) and for whom (`audience`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTokenSpec<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audience: &'a str,
    pub lifetime: Duration,
}

/// Signs node tokens with the ring of a key directory, following its rotations while serving.
pub struct NodeSigner {
    dir: PathBuf,
    state: Mutex<SignerState>,
}

impl std::fmt::Debug for NodeSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NodeSigner")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

struct SignerState {
    ring: NodeKeyRing,
    modified: Option<SystemTime>,
    checked: Instant,
}

impl NodeSigner {
    /// Opens (or creates) the key directory now, so a bad key fails at start-up.
    pub fn open(dir: &Path) -> Result<Self, NodeKeyError> {
        let ring = NodeKeyRing::open(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            state: Mutex::new(SignerState {
                ring,
                modified: modified(dir),
                checked: Instant::now(),
            }),
        })
    }

    /// Runs `read` on the current ring, reloaded first when the directory changed (a rotation
    /// or a retirement). A directory that became unreadable keeps the last good ring.
    fn with_ring<T>(&self, read: impl FnOnce(&NodeKeyRing) -> T) -> T {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        if state.checked.elapsed() >= RECHECK {
            state.checked = Instant::now();
            let current = modified(&self.dir);
            if current != state.modified {
                match NodeKeyRing::read(&self.dir) {
                    Ok(ring) if !ring.keys.is_empty() => {
                        state.ring = ring;
                        state.modified = current;
                    }
                    Ok(_) => {
                        tracing::error!(dir = %self.dir.display(), "node key directory is empty: keeping the keys loaded")
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot reload the node keys: keeping the keys loaded")
                    }
                }
            }
        }
        read(&state.ring)
    }

    pub fn jwks(&self) -> Value {
        self.with_ring(NodeKeyRing::jwks)
    }

    /// The id of the key tokens are signed with now: a token kept by a caller is stale once
    /// this changes.
    pub fn signing_kid(&self) -> Option<String> {
        self.with_ring(|ring| ring.signing_key(now()).map(|key| key.key.kid().to_owned()))
    }

    /// A short-lived token for one partner: `partner` role, a random `jti`, nothing else.
    pub fn token(&self, spec: &NodeTokenSpec<'_>) -> Option<String> {
        let issued_at = now();
        let claims = json!({
            "iss": spec.issuer,
            "sub": spec.subject,
            "aud": spec.audience,
            "iat": issued_at,
            "exp": issued_at.saturating_add(spec.lifetime.as_secs().max(1)),
            "jti": token_id(),
            "phare_roles": ["partner"],
        });
        self.with_ring(|ring| {
            let key = ring.signing_key(issued_at)?;
            let header = json!({"alg": "ES256", "typ": "JWT", "kid": key.key.kid()});
            Some(key.key.sign(&header, &claims))
        })
    }
}

fn modified(dir: &Path) -> Option<SystemTime> {
    fs::metadata(dir).and_then(|metadata| metadata.modified()).ok()
}

/// 128 random bits in hex: token ids only need to differ.
fn token_id() -> String {
    use rand::Rng as _;
    let mut bytes = [0_u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn kids(ring: &NodeKeyRing) -> Vec<String> {
        ring.keys().into_iter().map(|info| info.kid).collect()
    }

    #[test]
    fn a_first_key_is_created_private_and_signs_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let ring = NodeKeyRing::open(dir.path()).unwrap();
        let keys = ring.keys();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].signing);
        let again = NodeKeyRing::open(dir.path()).unwrap();
        assert_eq!(kids(&again), kids(&ring));
        let file = fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        assert_eq!(fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_rotated_key_is_published_at_once_and_signs_only_after_its_delay() {
        let dir = tempfile::tempdir().unwrap();
        let first = kids(&NodeKeyRing::open(dir.path()).unwrap())[0].clone();
        let later = NodeKeyRing::rotate(dir.path(), Duration::from_secs(3600)).unwrap();
        let ring = NodeKeyRing::open(dir.path()).unwrap();
        assert_eq!(kids(&ring), [first.clone(), later.clone()]);
        let jwks = ring.jwks();
        let published: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kid"].as_str().unwrap())
            .collect();
        assert_eq!(published, [first.as_str(), later.as_str()]);
        assert_eq!(ring.signing_key(now()).unwrap().key.kid(), first);
        assert_eq!(ring.signing_key(now() + 3600).unwrap().key.kid(), later);
        // The signing key cannot be retired; the pending one can.
        assert!(matches!(
            NodeKeyRing::retire(dir.path(), &first),
            Err(NodeKeyError::KeyInUse { .. })
        ));
        NodeKeyRing::retire(dir.path(), &later).unwrap();
        assert_eq!(kids(&NodeKeyRing::open(dir.path()).unwrap()), [first]);
        assert!(matches!(
            NodeKeyRing::retire(dir.path(), "nope"),
            Err(NodeKeyError::UnknownKey { .. })
        ));
    }

    #[test]
    fn an_exposed_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        NodeKeyRing::open(dir.path()).unwrap();
        let file = fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            NodeKeyRing::open(dir.path()),
            Err(NodeKeyError::File(DevIssuerError::Exposed { .. }))
        ));
    }

    #[test]
    fn the_signer_follows_a_rotation_without_restarting() {
        let dir = tempfile::tempdir().unwrap();
        let signer = NodeSigner::open(dir.path()).unwrap();
        let spec = NodeTokenSpec {
            issuer: "https://paris.example/api",
            subject: "paris",
            audience: "https://lyon.example/api",
            lifetime: Duration::from_secs(60),
        };
        let kid_of = |token: &str| {
            use base64::Engine as _;
            let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap();
            serde_json::from_slice::<Value>(&header).unwrap()["kid"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let before = kid_of(&signer.token(&spec).unwrap());
        let next = NodeKeyRing::rotate(dir.path(), Duration::ZERO).unwrap();
        // Rotated keys activate at the next whole second at the latest.
        std::thread::sleep(RECHECK + Duration::from_millis(1100));
        let after = kid_of(&signer.token(&spec).unwrap());
        assert_ne!(before, after);
        assert_eq!(after, next);
        assert_eq!(signer.jwks()["keys"].as_array().unwrap().len(), 2);
    }
}
