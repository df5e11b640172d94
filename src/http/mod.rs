//! The HTTP surface. Each resource has its own file of thin handlers: extract (auth first,
//! then the body), call a service, map the result to JSON. Status codes live here and in
//! `error.rs` only. The router is built with utoipa-axum so `/openapi.json` is generated
//! from the same handlers that serve the routes.

pub mod audit;
pub mod catalog;
pub mod changes;
pub mod console;
pub mod decisions;
pub mod extract;
pub mod grants;
pub mod keys;
mod openapi;
pub mod ops;
pub mod policies;
pub mod quota;
pub mod reevaluations;
pub mod server;
pub mod webhooks;

use crate::error::Error;
use crate::service::Services;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::Router;
use std::sync::Arc;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Shared by every handler. axum clones the state for every request (each route's handler
/// service holds a copy), so it is one `Arc`: one reference count, not one per service and
/// a copy of the cursor key.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub services: Services,
    pub config: Arc<crate::config::Config>,
    pub readiness: ops::Readiness,
}

impl AppState {
    pub fn new(services: Services, config: Arc<crate::config::Config>) -> Self {
        AppState(Arc::new(Shared {
            services,
            config,
            readiness: ops::Readiness::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// All API routes with their OpenAPI description.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(policies::create_policy, policies::list_policies))
        .routes(routes!(
            policies::test_policies,
            policies::get_policy_keyed_test,
            policies::patch_policy_keyed_test,
            policies::delete_policy_keyed_test
        ))
        .routes(routes!(
            policies::get_policy,
            policies::patch_policy,
            policies::delete_policy
        ))
        .routes(routes!(catalog::get_schema, catalog::put_schema))
        .routes(routes!(catalog::put_entities, catalog::list_entities))
        .routes(routes!(catalog::delete_entity))
        .routes(routes!(changes::preview))
        .routes(routes!(
            reevaluations::get_settings,
            reevaluations::put_settings
        ))
        .routes(routes!(reevaluations::get_reevaluation))
        .routes(routes!(decisions::authorize))
        .routes(routes!(decisions::authorize_batch))
        .routes(routes!(decisions::policy_set_version))
        .routes(routes!(grants::request_grant))
        .routes(routes!(grants::get_grant, grants::update_grant))
        .routes(routes!(grants::extend_grant))
        .routes(routes!(grants::revoke_grant))
        .routes(routes!(grants::approve_grant))
        .routes(routes!(grants::deny_grant))
        .routes(routes!(grants::approvals_waiting))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(webhooks::get_webhook, webhooks::delete_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::retry_delivery))
        .routes(routes!(grants::access_check))
        .routes(routes!(grants::list_grants))
        .routes(routes!(grants::bulk_revoke))
        .routes(routes!(audit::list))
        .routes(routes!(audit::verify))
        .routes(routes!(quota::get_quota, quota::put_quota))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
}

/// The OpenAPI document, with the shared parameters and error responses filled in.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut api) = api_routes().split_for_parts();
    openapi::finish(&mut api);
    api
}

pub fn router(state: AppState) -> Router {
    let (routes, mut api) = api_routes().split_for_parts();
    openapi::finish(&mut api);
    let spec = Arc::new(api.to_pretty_json().expect("OpenAPI document serializes"));
    let body_limit = state.config.body_limit_bytes;
    // Install the recorder before the first request is counted.
    ops::prometheus();

    let app = routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let spec = spec.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        (*spec).clone(),
                    )
                }
            }),
        )
        .merge(docs())
        .route("/console", axum::routing::get(console::page))
        .route("/console/", axum::routing::get(console::page))
        .route("/console/{*path}", axum::routing::get(console::asset))
        .route_layer(middleware::from_fn_with_state(state.clone(), track_metrics))
        .fallback(|| async { Error::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            Error::MethodNotAllowed("this method is not allowed on this route".into())
        })
        .with_state(state.clone());
    // The layers every request passes wrap the router once. (`Router::layer` wraps every
    // route's handler in each layer instead, and a request then clones and boxes one
    // service and one future per layer.) Outermost first.
    let stack = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .on_response(log_response)
                // Failures are logged where they happen, rate-limited (see `error.rs`); the
                // layer's own line per 5xx answer would undo that.
                .on_failure(())
                .make_span_with(|req: &Request| {
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request_id = %request_id,
                        method = %req.method(),
                        path = %req.uri().path(),
                    )
                }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            Error::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(middleware::map_response(ensure_envelope))
        .layer(middleware::map_response_with_state(
            state,
            close_when_draining,
        ))
        .layer(middleware::from_fn_with_state(body_limit, reject_early))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .service(app);
    Router::new().fallback_service(stack)
}

/// The access log's line for a response, inside the request's span (which carries its
/// `x-request-id`). Lines for 5xx answers are rate-limited like the failures behind them:
/// at most one a second, with the count left out (`earlier_not_logged`); a fault fails
/// every request alike, and a line for each would flood the log (and the disk, if that is
/// what is full).
fn log_response<B>(res: &Response<B>, latency: std::time::Duration, _span: &tracing::Span) {
    static SERVER_ERRORS: crate::throttle::LogThrottle =
        crate::throttle::LogThrottle::new(std::time::Duration::from_secs(1));
    let status = res.status().as_u16();
    if res.status().is_server_error() {
        if let Some(n) = SERVER_ERRORS.admit() {
            tracing::info!(
                status,
                latency_ms = latency.as_secs_f64() * 1e3,
                earlier_not_logged = n,
                "finished processing request"
            );
        }
    } else {
        tracing::info!(
            status,
            latency_ms = latency.as_secs_f64() * 1e3,
            "finished processing request"
        );
    }
}

/// While the instance drains after a shutdown signal, every answer carries `Connection:
/// close`: a client (or a balancer's pooled connection) opens its next connection
/// elsewhere instead of reusing this one until the drain ends.
async fn close_when_draining(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut res: axum::response::Response,
) -> axum::response::Response {
    if state.readiness.draining() {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// Refused before routing: a body whose declared length is over the limit (413, without
/// waiting for bytes that would be refused anyway), and a path or query with a NUL
/// character (`%00`; no database stores it in text, see `extract::has_nul` for bodies).
async fn reject_early(
    axum::extract::State(limit): axum::extract::State<usize>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Error::body_too_large().into_response();
    }
    if req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().contains("%00"))
    {
        return Error::invalid(crate::error::URL_NUL_REFUSED).into_response();
    }
    next.run(req).await
}

/// Counts requests and their latency by route and status, for `/metrics`. The labels are
/// static strings (see [`label`]), so a request allocates none.
///
/// A write (any method but GET and HEAD) that answers 503 also makes `/readyz` report not
/// ready for a while (see [`ops::Readiness`]).
async fn track_metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    let start = Instant::now();
    let write = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| label(p.as_str()));
    let method = method_label(req.method());
    let res = next.run(req).await;
    if write && res.status() == StatusCode::SERVICE_UNAVAILABLE {
        state.readiness.write_failed();
    }
    let status = label(res.status().as_str());
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("grantd_http_requests_total", &labels).increment(1);
    metrics::histogram!("grantd_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    res
}

/// The method as a label: the standard ones by name, any other as `other` (a client may
/// send any token as a method; it must not add series).
fn method_label(method: &axum::http::Method) -> &'static str {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    STANDARD
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or("other")
}

/// The one `'static` copy of a label value: route templates (those the router matched)
/// and status codes, a bounded set, each copied once for the life of the process.
fn label(value: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{OnceLock, RwLock};
    static SEEN: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(v) = seen.read().unwrap_or_else(|p| p.into_inner()).get(value) {
        return v;
    }
    let mut w = seen.write().unwrap_or_else(|p| p.into_inner());
    if let Some(v) = w.get(value) {
        return v;
    }
    let v: &'static str = Box::leak(value.to_owned().into_boxed_str());
    w.insert(v);
    v
}

/// `/docs`: Swagger UI over `/openapi.json`, every file of it from the binary (the
/// `vendored` feature of `utoipa-swagger-ui`), under a policy that lets the page load and
/// call nothing but this server. (Swagger UI styles its elements inline and renders
/// descriptions as markup, so the policy allows inline styles and has no Trusted Types;
/// the console's policy is stricter.)
fn docs() -> Router<AppState> {
    let ui: Router<AppState> = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none"))
        .into();
    ui.layer(middleware::map_response(
        |mut res: Response<Body>| async move {
            console::page_headers(res.headers_mut(), DOCS_CONTENT_SECURITY_POLICY);
            res
        },
    ))
}

/// The policy of `/docs`: this server only.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The last line of defence for the envelope: any error response that did not come from
/// [`Error`] (a rejection of an extractor we do not wrap, a layer's own answer) is rewritten
/// into `{code, message}`; 422 becomes 400. 4xx texts are kept as the message (they describe
/// the request); 5xx texts are dropped.
async fn ensure_envelope(res: Response<Body>) -> Response<Body> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return res;
    }
    // Kept on the rewritten answer: `Allow`, and a page's security headers (a `/docs` 404).
    let kept: Vec<(header::HeaderName, HeaderValue)> = [
        header::ALLOW,
        header::CONTENT_SECURITY_POLICY,
        header::X_CONTENT_TYPE_OPTIONS,
        header::REFERRER_POLICY,
        header::X_FRAME_OPTIONS,
    ]
    .into_iter()
    .filter_map(|name| res.headers().get(&name).cloned().map(|v| (name, v)))
    .collect();
    let text = match axum::body::to_bytes(res.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let msg = |default: &str| {
        if text.is_empty() {
            default.to_string()
        } else {
            text.clone()
        }
    };
    let err = match status {
        StatusCode::UNAUTHORIZED => Error::Unauthenticated(msg("unauthenticated")),
        StatusCode::FORBIDDEN => Error::Forbidden(msg("forbidden")),
        StatusCode::NOT_FOUND => Error::NotFound(msg("no such route")),
        StatusCode::METHOD_NOT_ALLOWED => Error::MethodNotAllowed(msg("method not allowed")),
        StatusCode::CONFLICT => Error::Conflict(msg("conflict")),
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge(msg("payload too large")),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Error::UnsupportedMediaType(msg("unsupported media type"))
        }
        StatusCode::TOO_MANY_REQUESTS => Error::RateLimited(msg("rate limited")),
        StatusCode::SERVICE_UNAVAILABLE => {
            Error::Unavailable(anyhow::anyhow!("unavailable: {text}"))
        }
        s if s.is_server_error() => Error::Internal(anyhow::anyhow!("{s}: {text}")),
        _ => Error::invalid(msg("invalid request")),
    };
    let mut out = err.into_response();
    for (name, value) in kept {
        out.headers_mut().insert(name, value);
    }
    out
}

/// The consistency token every write of policies, schema, entities or keys answers with:
/// the tenant's `policy_set_version` once the write committed. A decision request that
/// carries it (`min_policy_set_version` or [`MIN_POLICY_SET_VERSION_HEADER`]) is decided on
/// that set or a newer one, on whichever instance it lands.
pub const POLICY_SET_VERSION_HEADER: &str = "x-policy-set-version";
pub const MIN_POLICY_SET_VERSION_HEADER: &str = "x-min-policy-set-version";

/// `response` with the consistency token header.
pub fn with_policy_set_version(
    mut response: axum::response::Response,
    revision: i64,
) -> axum::response::Response {
    response
        .headers_mut()
        .insert(POLICY_SET_VERSION_HEADER, HeaderValue::from(revision));
    response
}

/// The answer of a configuration write (policies, schema, entities): the consistency token
/// and the id of the re-evaluation of active grants the write started (the same number:
/// a re-evaluation is named by the version its write committed).
pub fn config_written(
    response: axum::response::Response,
    revision: i64,
) -> axum::response::Response {
    let mut response = with_policy_set_version(response, revision);
    response
        .headers_mut()
        .insert(REEVALUATION_ID_HEADER, HeaderValue::from(revision));
    response
}

pub const REEVALUATION_ID_HEADER: &str = "x-reevaluation-id";

/// `ETag`-style quoting helper shared by handlers that version resources.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn labels_are_interned_and_methods_bounded() {
        let a = label("/v1/authorize");
        let b = label(&String::from("/v1/authorize"));
        assert_eq!(a, "/v1/authorize");
        assert!(std::ptr::eq(a, b), "one copy per value");
        assert_eq!(label("200"), "200");
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        assert_eq!(
            method_label(&Method::from_bytes(b"PROPFIND").unwrap()),
            "other"
        );
        assert_eq!(method_label(&Method::from_bytes(b"x1").unwrap()), "other");
    }
}
