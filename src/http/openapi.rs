//! The parts of the OpenAPI document that are the same for every route: the API-key
//! security scheme, the `X-Tenant-ID` / `X-On-Behalf-Of` headers and the error responses.
//! Filling them in here keeps each handler's annotation about what is particular to it.

use crate::error::ErrorBody;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Content, ObjectBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Type,
};
use utoipa::{OpenApi as _, PartialSchema};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "grantd",
        description = "Multi-tenant Cedar policy decision point with a grant lifecycle. \
            Every /v1 call carries `X-API-Key` and `X-Tenant-ID`; errors share one envelope \
            `{code, message, details?, notices?}`. Unknown JSON fields are rejected (400); \
            a body that is not `application/json` gets 415, one over the size limit 413.\n\n\
            Limits, checked before Cedar sees the input (400 `invalid_input` naming the limit): \
            rule `conditions` and schemas nest at most 32 levels of brackets (`(`, `[`, `{`, \
            and `<` in schemas) and `if` expressions; conditions are at most 20,000 bytes with \
            at most 200 operator characters (`.[&|+-*<>=!`) and 128 characters of `like` \
            patterns; a schema has at most 256 declarations (`entity`, `action`, `type`) \
            naming at most 512 entity types and actions with at most 2,048 hierarchy edges; \
            arrays and objects nest at most 32 levels in a context (from the context object) \
            and in one entity (from the entity object), and their strings have at most 4,096 \
            characters; an entity's chain of ancestors is at most 32 long (stored and \
            request-scoped entities alike); a decision request carries at most 100 \
            request-scoped entities, a batch at most 1,000 in all and at most 10 requests that \
            bring any; a filter value is at most 1,000 characters. A tenant whose stored configuration breaks a limit \
            (stored by an earlier version) answers its decisions and grant writes `500 \
            policy_set_invalid` with a message naming what to fix; other tenants are not \
            affected. `next_page_token` is bound to the tenant and the query it came from.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "keys", description = "API keys (admin)"),
        (name = "policies", description = "Policies of rules, assembled into Cedar"),
        (name = "schema", description = "The tenant's Cedar schema"),
        (name = "entities", description = "The tenant's Cedar entities"),
        (name = "changes", description = "What a configuration write would do, before it is made"),
        (name = "grants", description = "The grant lifecycle and the access check"),
        (name = "webhooks", description = "Signed provisioning events from a durable outbox (admin)"),
        (name = "decisions", description = "Authorization decisions from the compiled policy set"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "quota", description = "Request quotas per tenant and per key (per instance)"),
        (name = "operations", description = "Health, readiness, metrics (no authentication)"),
    )
)]
struct ApiDoc;

pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// A text header parameter (header values are text on the wire, and generated clients
/// put a typed value into a header as it is).
fn header_param(name: &str, required: bool, description: &str) -> Parameter {
    let schema = ObjectBuilder::new().schema_type(Type::String);
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn error_response(status: &str, description: &str) -> RefOr<utoipa::openapi::Response> {
    let mut b = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    );
    if status == "503" {
        b = b.header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::Integer),
                )
                .description(Some("Seconds to wait before retrying (1)."))
                .build(),
        );
    }
    RefOr::T(b.build())
}

fn add_errors(op: &mut Operation, errors: &[(&str, &str)]) {
    for (status, description) in errors {
        op.responses
            .responses
            .entry((*status).to_string())
            .or_insert_with(|| error_response(status, description));
    }
}

/// Completes the generated document: security, headers and error responses on every
/// operation, so "every route, body and error" is documented from one place.
pub fn finish(api: &mut OpenApi) {
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "The API key (shown once at creation). Its role decides which routes it may call.",
        ))),
    );
    // Keep the envelope schema's description in the document even if no handler names it.
    components
        .schemas
        .entry("ErrorBody".into())
        .or_insert_with(ErrorBody::schema);

    for (path, item) in api.paths.paths.iter_mut() {
        let authenticated = path.starts_with("/v1/");
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let has_body = op.request_body.is_some();
            if authenticated {
                op.security = Some(vec![SecurityRequirement::new::<_, _, String>(
                    "api_key",
                    [],
                )]);
                let params = op.parameters.get_or_insert_with(Vec::new);
                params.push(header_param(
                    "X-Tenant-ID",
                    true,
                    "The tenant the call is for (its UUID); must be the API key's tenant.",
                ));
                // An operation that says more of X-On-Behalf-Of (approvals: the approver)
                // keeps its own description; a parameter is declared once.
                if !params.iter().any(|p| p.name == "X-On-Behalf-Of") {
                    params.push(header_param(
                        "X-On-Behalf-Of",
                        false,
                        "The human a portal acts for (free text), recorded on audit events and grants.",
                    ));
                }
                add_errors(
                    op,
                    &[
                        ("400", "invalid_input: malformed input, unknown fields, missing or invalid X-Tenant-ID"),
                        ("401", "unauthenticated: missing, unknown, malformed or revoked X-API-Key"),
                        ("403", "tenant_mismatch (the key belongs to another tenant) or forbidden (the key's role may not call this route)"),
                        ("404", "not_found: no such object in this tenant, or no such route"),
                        ("405", "method_not_allowed: the route exists, the method does not"),
                        ("429", "rate_limited: over the tenant's or the key's quota (see GET /v1/quota); Retry-After gives the seconds to wait (absent when the call asks more than the bucket holds), RateLimit-Limit the bucket's size, RateLimit-Remaining 0, RateLimit-Reset the seconds until it holds the call"),
                    ],
                );
                if has_body {
                    add_errors(
                        op,
                        &[
                            (
                                "413",
                                "payload_too_large: the body is over the configured limit",
                            ),
                            (
                                "415",
                                "unsupported_media_type: the body is not application/json",
                            ),
                        ],
                    );
                }
            }
            add_errors(
                op,
                &[
                    (
                        "500",
                        "internal: a bug; the message reveals nothing, the log has the cause",
                    ),
                    (
                        "503",
                        "unavailable: the database is unreachable or cannot be written (a full disk, its write lock held by another process; a decision whose audit event cannot be recorded is refused, not left waiting), or the server is at its connection cap; the request had no effect. Retry after `Retry-After` seconds; grantd heals by itself when the fault ends",
                    ),
                ],
            );
        }
    }
}
