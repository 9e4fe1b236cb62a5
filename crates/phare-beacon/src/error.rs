//! The single error every failure becomes: an HTTP status and a message naming what was wrong.
//! Rendered as the Beacon error envelope (`errorCode` = status) in one place.

use serde_json::{Value, json};

use phare_domain::Granularity;

use crate::API_VERSION;
use crate::documents::BeaconIdentity;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct BeaconError {
    pub status: u16,
    pub message: String,
}

impl BeaconError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            message: message.into(),
        }
    }

    /// Missing or invalid credentials. The message never repeats the credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: 401,
            message: message.into(),
        }
    }

    /// Valid credentials without the right; the message never says whether the resource exists.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: 403,
            message: message.into(),
        }
    }

    /// A query budget is spent; the server adds `Retry-After`.
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self {
            status: 429,
            message: message.into(),
        }
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self {
            status: 405,
            message: message.into(),
        }
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self {
            status: 415,
            message: message.into(),
        }
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self {
            status: 413,
            message: message.into(),
        }
    }

    /// The node failed; the message is generic so internals never reach the caller.
    pub fn internal() -> Self {
        Self {
            status: 500,
            message: "internal error: the node could not answer; see its logs".into(),
        }
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self {
            status: 503,
            message: message.into(),
        }
    }

    /// The `beaconErrorResponse` document. The request may not have been understood, so the
    /// summary echoes only the defaults.
    pub fn to_document(&self, identity: &BeaconIdentity) -> Value {
        let summary = json!({
            "apiVersion": API_VERSION,
            "requestedSchemas": [],
            "pagination": { "skip": 0, "limit": 0 },
            "requestedGranularity": "boolean",
        });
        json!({
            "meta": identity.response_meta(Granularity::Boolean, summary, &[], false),
            "error": { "errorCode": self.status, "errorMessage": self.message },
        })
    }
}
