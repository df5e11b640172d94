//! Extractors. Authentication happens here, before any body is read, so a caller without
//! the right role learns nothing from validation errors; and every rejection (bad JSON,
//! wrong content type, oversized body, bad query) is turned into the error envelope.

use super::{AppState, MIN_POLICY_SET_VERSION_HEADER};
use crate::domain::audit::{EventKind, NewEvent, Subject};
use crate::domain::ids::TenantId;
use crate::domain::key::PresentedKey;
use crate::domain::role::Permission;
use crate::error::Error;
use crate::service::keys::{self, Authn};
use crate::service::Caller;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::marker::PhantomData;

pub const API_KEY_HEADER: &str = "x-api-key";
pub const TENANT_HEADER: &str = "x-tenant-id";
pub const ON_BEHALF_OF_HEADER: &str = "x-on-behalf-of";
const MAX_ON_BEHALF_OF: usize = 320;

/// A permission a route requires, as a type so the check runs in the extractor.
pub trait Required: Send + Sync + 'static {
    const PERMISSION: Permission;
}

macro_rules! permission_markers {
    ($($name:ident),*) => {$(
        #[doc = concat!("Route marker for [`Permission::", stringify!($name), "`].")]
        pub struct $name;
        impl Required for $name {
            const PERMISSION: Permission = Permission::$name;
        }
    )*};
}

pub mod perm {
    use super::{Permission, Required};
    permission_markers!(
        ManageKeys,
        ReadPolicies,
        WritePolicies,
        Authorize,
        WriteGrants,
        ReadGrants,
        AccessCheck,
        AdminGrants,
        ReadAudit,
        ManageSettings,
        ManageWebhooks,
        ReadQuota
    );
}

/// An authenticated caller whose role holds permission `P`.
pub struct Auth<P: Required>(pub Caller, pub PhantomData<P>);

impl<P: Required> FromRequestParts<AppState> for Auth<P> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let caller = authenticate(parts, state).await?;
        if !P::PERMISSION.allows(caller.role) {
            return Err(Error::Forbidden(format!(
                "the {} role may not call this endpoint",
                caller.role
            )));
        }
        // The quota, before the body is read or anything decided. A call that decides many
        // things (a batch, policy tests) is charged the rest by its handler once its body
        // says how many.
        state
            .services
            .quotas
            .admit(&caller, quota_class(P::PERMISSION, &parts.method), 1)
            .await?;
        Ok(Auth(caller, PhantomData))
    }
}

/// The budget a call spends: decisions (authorize, grant writes, access checks) or
/// everything else (reads, `GET /v1/approvals` among them, and configuration).
pub fn quota_class(p: Permission, method: &axum::http::Method) -> crate::service::quotas::Class {
    use crate::service::quotas::Class;
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        return Class::Other;
    }
    match p {
        Permission::Authorize
        | Permission::WriteGrants
        | Permission::AccessCheck
        | Permission::AdminGrants => Class::Decisions,
        _ => Class::Other,
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<Result<&'a str, ()>> {
    parts
        .headers
        .get(name)
        .map(|v| v.to_str().map(str::trim).map_err(|_| ()))
}

/// `X-Min-Policy-Set-Version`: digits only; sent more than once, every value must be one
/// and the largest counts (none may be dropped unread, or a request could name a newer
/// version and be decided on an older one).
fn min_policy_set_version(parts: &Parts) -> Result<Option<i64>, Error> {
    let mut min = None;
    for v in parts.headers.get_all(MIN_POLICY_SET_VERSION_HEADER) {
        let v = v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| {
                Error::invalid("X-Min-Policy-Set-Version must be a non-negative integer")
            })?;
        min = min.max(Some(v));
    }
    Ok(min)
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, Error> {
    let presented = match header(parts, API_KEY_HEADER) {
        None => return Err(Error::Unauthenticated("missing X-API-Key header".into())),
        Some(Ok(v)) => PresentedKey::parse(v)
            .ok_or_else(|| Error::Unauthenticated("malformed X-API-Key".into()))?,
        Some(Err(())) => return Err(Error::Unauthenticated("malformed X-API-Key".into())),
    };
    let tenant: TenantId = match header(parts, TENANT_HEADER) {
        None => return Err(Error::invalid("missing X-Tenant-ID header")),
        Some(Ok(v)) => v
            .parse()
            .map_err(|_| Error::invalid("X-Tenant-ID must be a UUID"))?,
        Some(Err(())) => return Err(Error::invalid("X-Tenant-ID must be a UUID")),
    };
    let on_behalf_of = match header(parts, ON_BEHALF_OF_HEADER) {
        None => None,
        Some(Ok("")) => None,
        Some(Ok(v)) if v.chars().count() <= MAX_ON_BEHALF_OF => Some(v.to_string()),
        Some(_) => {
            return Err(Error::invalid(format!(
                "X-On-Behalf-Of must be visible text of at most {MAX_ON_BEHALF_OF} characters"
            )))
        }
    };
    let min_policy_set_version = min_policy_set_version(parts)?;
    let s = &state.services;
    match keys::authenticate(&s.store, &s.keys, &presented, tenant, on_behalf_of.clone()).await? {
        Authn::Ok(caller) => Ok(Caller {
            min_policy_set_version,
            ..caller
        }),
        Authn::TenantMismatch { key } => {
            // Charged to the key (and its tenant) before the event is written: a key
            // knocking on other tenants' doors in a loop must not fill its tenant's log.
            s.quotas
                .admit_for(
                    key.tenant_id,
                    key.id,
                    crate::service::quotas::Class::Other,
                    1,
                )
                .await?;
            // Recorded in the key's own tenant: that tenant's auditors should learn that
            // one of their keys knocked on another tenant's door. The 403 leaves only once
            // the event is durable.
            let actor = crate::domain::audit::Actor {
                key_id: key.id.to_string(),
                role: key.role.as_str().to_string(),
                on_behalf_of,
            };
            let event = NewEvent::new(
                state.services.clock.now(),
                actor,
                EventKind::AuthTenantMismatch,
                Subject::new("key", key.id),
            )
            .with_request(json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "tenant_id": tenant.to_string(),
            }));
            state.services.audit.append(key.tenant_id, event).await?;
            Err(Error::TenantMismatch(
                "the API key does not belong to the tenant in X-Tenant-ID".into(),
            ))
        }
    }
}

/// `axum::Json` with every rejection mapped into the envelope: 415 for a body that is not
/// JSON, 413 over the limit, 400 for syntax, types and unknown fields (never 422).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        // Parsed without axum's path-tracking deserializer (which allocates every key it
        // passes); a body that fails to parse is parsed again by axum for the error
        // message that names the field (`parse_json`).
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|v| is_json_type(v.as_bytes()));
        if !json_type {
            return Err(Error::UnsupportedMediaType(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(JsonRejection::from(e)))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// `application/json` or `application/*+json`, with any parameters (what `axum::Json`
/// accepts).
fn is_json_type(v: &[u8]) -> bool {
    let Ok(v) = std::str::from_utf8(v) else {
        return false;
    };
    let v = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
}

/// Whether a JSON text holds a NUL character in a string (the escape `\u0000`; JSON has
/// no raw control characters in strings). No database stores NUL in text, so no input
/// carries one: refusing it here keeps both backends alike on every path.
fn has_nul(bytes: &[u8]) -> bool {
    let mut at = 0;
    while let Some(i) = memchr_u0000(&bytes[at..]) {
        let pos = at + i;
        // an escape only when the backslash before `u0000` is not itself escaped
        let run = bytes[..=pos]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if run % 2 == 1 {
            return true;
        }
        at = pos + 1;
    }
    false
}

/// The offset of the next `\u0000` (backslash included).
fn memchr_u0000(bytes: &[u8]) -> Option<usize> {
    bytes.windows(6).position(|w| w == b"\\u0000")
}

const NUL_REFUSED: &str = "a string contains a NUL character (\\u0000), which is not accepted";

/// A JSON body as `T`; when it does not parse, the error is axum's (with the path of the
/// field at fault), so both ways of parsing answer alike. (A change preview parses the
/// body of the write it names with it too, to answer exactly as that write would.)
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if has_nul(bytes) {
        return Err(Error::invalid(NUL_REFUSED));
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(_) => match axum::Json::<T>::from_bytes(bytes) {
            Ok(axum::Json(v)) => Ok(v),
            Err(rej) => Err(json_rejection(rej)),
        },
    }
}

pub fn json_rejection(rej: JsonRejection) -> Error {
    match rej {
        JsonRejection::MissingJsonContentType(_) => Error::UnsupportedMediaType(
            "expected a JSON body with Content-Type: application/json".into(),
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::body_too_large()
        }
        JsonRejection::JsonDataError(e) => Error::invalid(strip_axum_prefix(&e.body_text())),
        JsonRejection::JsonSyntaxError(e) => Error::invalid(strip_axum_prefix(&e.body_text())),
        other => Error::invalid(other.body_text()),
    }
}

fn strip_axum_prefix(s: &str) -> String {
    s.strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .or_else(|| s.strip_prefix("Failed to parse the request body as JSON: "))
        .map(|rest| format!("invalid JSON body: {rest}"))
        .unwrap_or_else(|| s.to_string())
}

/// `axum::extract::Query` with rejections as 400 `invalid_input`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(Error::invalid(
                e.body_text()
                    .replace("Failed to deserialize query string: ", "invalid query: "),
            )),
            Err(other) => Err(Error::invalid(other.body_text())),
        }
    }
}

/// `If-Match: "3"` (or `3`, or `W/"3"`); `*` and absence mean "any version".
pub fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<i64>, Error> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| Error::invalid("If-Match must be a version such as \"3\""))?
        .trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.strip_prefix("W/").unwrap_or(s);
    let s = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| Error::invalid("If-Match must be a version such as \"3\""))
}

/// A JSON body that may be absent: an empty body is `T::default()`; a non-empty one must be
/// JSON (415 otherwise) and parse (400 otherwise).
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| is_json_type(v.as_bytes()));
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Error::body_too_large(),
                _ => Error::invalid(e.body_text()),
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if json_type != Some(true) {
            return Err(Error::UnsupportedMediaType(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        if has_nul(&bytes) {
            return Err(Error::invalid(NUL_REFUSED));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|e| Error::invalid(format!("invalid JSON body: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn a_nul_escape_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(has_nul(br#"{"a": "x\u0000y"}"#));
        assert!(has_nul(br#"{"a": "\\\u0000"}"#));
        assert!(!has_nul(br#"{"a": "\\u0000"}"#));
        assert!(!has_nul(br#"{"a": "u0000"}"#));
        assert!(!has_nul(br#"{"a": "\u0001"}"#));
    }

    fn hm(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("if-match", HeaderValue::from_str(v).unwrap());
        h
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        id: String,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        principal: Inner,
        n: Option<u32>,
    }

    fn message(e: Error) -> String {
        match e {
            Error::InvalidInput { message, .. } => message,
            other => panic!("expected invalid_input, got {other:?}"),
        }
    }

    #[test]
    fn plain_parse_accepts_what_axum_accepts_and_errors_name_the_field() {
        let ok: Outer = parse_json(br#" {"principal":{"id":"u1"},"n":3} "#).unwrap();
        assert_eq!(
            ok,
            Outer {
                principal: Inner { id: "u1".into() },
                n: Some(3)
            }
        );
        // A wrong type deep inside: the message carries the path, as axum's does.
        let m = message(parse_json::<Outer>(br#"{"principal":{"id":7}}"#).unwrap_err());
        assert!(m.starts_with("invalid JSON body: principal.id: "), "{m}");
        let m = message(parse_json::<Outer>(br#"{"principal":{"id":"u1","x":1}}"#).unwrap_err());
        assert!(
            m.contains("principal") && m.contains("unknown field `x`"),
            "{m}"
        );
        let m = message(parse_json::<Outer>(br#"{"n":-1,"principal":{"id":"a"}}"#).unwrap_err());
        assert!(m.starts_with("invalid JSON body: n: "), "{m}");
        // Syntax: trailing characters and truncated bodies are refused.
        assert!(parse_json::<Outer>(br#"{"principal":{"id":"u1"}} x"#).is_err());
        assert!(parse_json::<Outer>(br#"{"principal":{"id":"u1"}"#).is_err());
        assert!(parse_json::<Outer>(b"").is_err());
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match(&hm("\"3\"")).unwrap(), Some(3));
        assert_eq!(if_match(&hm("3")).unwrap(), Some(3));
        assert_eq!(if_match(&hm("W/\"12\"")).unwrap(), Some(12));
        assert_eq!(if_match(&hm("*")).unwrap(), None);
        assert!(if_match(&hm("\"abc\"")).is_err());
    }
}
