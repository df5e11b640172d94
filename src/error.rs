//! One error type for the whole service. Every failure a request can meet becomes an
//! [`Error`] with a stable machine-readable `code`; `IntoResponse` renders the contract's
//! envelope `{code, message, details?, notices?}`. 5xx bodies never carry internal detail:
//! the cause goes to the log instead.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    InvalidInput {
        message: String,
        details: Option<Value>,
        notices: Vec<String>,
    },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    TenantMismatch(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    AccessDenied {
        message: String,
        details: Option<Value>,
        notices: Vec<String>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A bulk operation that could not finish (409 `conflict`): `details` says what it did
    /// and what is left.
    #[error("{message}")]
    Incomplete { message: String, details: Value },
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    RateLimited(String),
    /// Over a quota (429 `rate_limited`): `Retry-After` and `RateLimit-*` say when to
    /// come back and what the bucket holds.
    #[error("{message}")]
    Throttled {
        message: String,
        /// `None`: the call can never pass (it asks more than the bucket holds).
        retry_after: Option<std::time::Duration>,
        /// The bucket's size.
        limit: u32,
    },
    /// The database could not be reached; the request had no effect.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    /// A decision asked for a policy set at least as recent as `min_policy_set_version`,
    /// and the tenant's configuration did not reach it within the wait (503 `stale`).
    #[error("{0}")]
    Stale(String),
    /// `/readyz`: the server cannot serve now (503 `unavailable`); the reason is shown.
    #[error("not ready: {0}")]
    NotReady(String),
    /// The tenant's stored configuration cannot be compiled (for example a rule stored by an
    /// earlier version that breaks a limit added since): its decisions fail closed until an
    /// author fixes or deletes what the message names. Other tenants are not affected.
    #[error("{0}")]
    PolicySetInvalid(String),
    /// A bug or an unexpected failure. The source is logged, never shown.
    #[error("internal error: {0}")]
    Internal(#[source] anyhow::Error),
}

/// The wire shape of every error response.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_input`, `tenant_mismatch`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// User-facing notices (Cedar diagnostics, policy notices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notices: Option<Vec<String>>,
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
            details: None,
            notices: Vec::new(),
        }
    }

    pub fn invalid_with_notices(message: impl Into<String>, notices: Vec<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
            details: None,
            notices,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    /// A request body over the configured limit (413).
    pub fn body_too_large() -> Self {
        Error::PayloadTooLarge("the request body is larger than the configured limit".into())
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Error::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidInput { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::TenantMismatch(_) | Error::Forbidden(_) | Error::AccessDenied { .. } => {
                StatusCode::FORBIDDEN
            }
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) | Error::Incomplete { .. } => StatusCode::CONFLICT,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::RateLimited(_) | Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) | Error::NotReady(_) | Error::Stale(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::PolicySetInvalid(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::TenantMismatch(_) => "tenant_mismatch",
            Error::Forbidden(_) => "forbidden",
            Error::AccessDenied { .. } => "access_denied",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) | Error::Incomplete { .. } => "conflict",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::RateLimited(_) | Error::Throttled { .. } => "rate_limited",
            Error::Unavailable(_) | Error::NotReady(_) => "unavailable",
            Error::Stale(_) => "stale",
            Error::PolicySetInvalid(_) => "policy_set_invalid",
            Error::Internal(_) => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (details, notices) = match self {
            Error::InvalidInput {
                details, notices, ..
            }
            | Error::AccessDenied {
                details, notices, ..
            } => (
                details.clone(),
                (!notices.is_empty()).then(|| notices.clone()),
            ),
            _ => (None, None),
        };
        let message = match self {
            Error::Unavailable(_) => {
                "the database is unavailable; the request had no effect".into()
            }
            Error::Internal(_) => "internal error; the server log has the details".into(),
            other => other.to_string(),
        };
        ErrorBody {
            code: self.code().to_string(),
            message,
            details,
            notices,
        }
    }
}

/// What a `503 unavailable` answer asks the client to wait before retrying, in seconds.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Every failure of one kind is logged at most once a second, with the count left out: a
/// fault makes every request fail alike, and a line for each would flood the log.
static LOG_INTERNAL: crate::throttle::LogThrottle =
    crate::throttle::LogThrottle::new(std::time::Duration::from_secs(1));
static LOG_UNAVAILABLE: crate::throttle::LogThrottle =
    crate::throttle::LogThrottle::new(std::time::Duration::from_secs(1));
static LOG_POLICY_SET: crate::throttle::LogThrottle =
    crate::throttle::LogThrottle::new(std::time::Duration::from_secs(1));

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Error::Internal(e) => {
                if let Some(n) = LOG_INTERNAL.admit() {
                    tracing::error!(error = ?e, earlier_not_logged = n, "internal error")
                }
            }
            Error::Unavailable(e) => {
                if let Some(n) = LOG_UNAVAILABLE.admit() {
                    tracing::warn!(error = ?e, earlier_not_logged = n, "database unavailable")
                }
            }
            Error::PolicySetInvalid(m) => {
                if let Some(n) = LOG_POLICY_SET.admit() {
                    tracing::error!(problem = %m, earlier_not_logged = n, "a tenant's configuration cannot be compiled")
                }
            }
            _ => {}
        }
        let mut res = (status, axum::Json(self.body())).into_response();
        if let Error::Throttled {
            retry_after, limit, ..
        } = &self
        {
            let h = res.headers_mut();
            h.insert("ratelimit-limit", (*limit).into());
            h.insert("ratelimit-remaining", 0u32.into());
            // Whole seconds, rounded up: a client that waits that long finds its tokens.
            // A call that can never pass gets no Retry-After (waiting would not help).
            if let Some(wait) = retry_after {
                let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                h.insert(axum::http::header::RETRY_AFTER, secs.into());
                h.insert("ratelimit-reset", secs.into());
            }
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(RETRY_AFTER_SECS),
            );
        }
        res
    }
}

/// What a URL holding `%00` is refused with (the router's middleware, and a change
/// preview naming such a path).
pub const URL_NUL_REFUSED: &str = "the URL contains a NUL character (%00), which is not accepted";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_reveal_nothing() {
        let e = Error::internal(anyhow::anyhow!("secret path /var/lib/x"));
        let body = e.body();
        assert_eq!(body.code, "internal");
        assert!(!body.message.contains("secret"));
        let e = Error::Unavailable(anyhow::anyhow!("db at /secret"));
        assert!(!e.body().message.contains("secret"));
    }
}
