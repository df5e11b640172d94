//! `/v1/webhooks`: admin-only webhook management and the deliveries of each webhook.

use super::extract::{perm, ApiJson, ApiQuery, Auth};
use super::AppState;
use crate::domain::webhook::{Delivery, Webhook};
use crate::error::{ErrorBody, Result};
use crate::service::webhooks::{self, CreatedWebhook, DeliveryPage, DeliveryQuery, WebhookCreate};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    pub items: Vec<Webhook>,
}

/// Create a webhook (admin). Deliveries of the grant events it asks for are POSTed to
/// `url` in the Standard Webhooks format (headers `webhook-id`, `webhook-timestamp`,
/// `webhook-signature`, signed with the `secret` answered here once) with the body
/// `{"type", "timestamp", "data": {"grant", "audit_event_id", "audit_kind", "actor",
/// "notification_channel"}}`. Each event is written to an outbox in the transaction of
/// the change that causes it, and delivered at least once: retried on exponential backoff
/// with jitter (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h by default; about 27.6 hours), in
/// order per grant, then dead-lettered. A retry carries the same `webhook-id`.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = WebhookCreate,
    responses(
        (status = 201, description = "created; `secret` is shown this once", body = CreatedWebhook),
        (status = 400, description = "invalid_input: a URL that is not https (without --allow-insecure-webhooks), names a non-public address (without --allow-private-webhooks), carries credentials or is longer than 2048 bytes; an unknown event type; a channel or description too long", body = ErrorBody),
        (status = 409, description = "the tenant already has 20 webhooks", body = ErrorBody),
    ))]
pub async fn create_webhook(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageWebhooks>,
    ApiJson(body): ApiJson<WebhookCreate>,
) -> Result<Response> {
    let urls = state.config.webhooks.urls;
    let w = webhooks::create(&state.services, &caller, urls, body).await?;
    Ok((StatusCode::CREATED, Json(w)).into_response())
}

/// The tenant's webhooks (admin; secrets are never shown again).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "the webhooks", body = WebhookList)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageWebhooks>,
) -> Result<Json<WebhookList>> {
    Ok(Json(WebhookList {
        items: webhooks::list(&state.services, &caller).await?,
    }))
}

/// One webhook (admin).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 200, description = "the webhook", body = Webhook),
        (status = 404, description = "no such webhook in this tenant", body = ErrorBody)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageWebhooks>,
    Path(id): Path<String>,
) -> Result<Json<Webhook>> {
    Ok(Json(webhooks::get(&state.services, &caller, &id).await?))
}

/// Delete a webhook and its deliveries (admin): pending deliveries are not sent.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 204, description = "deleted"),
        (status = 404, description = "no such webhook in this tenant", body = ErrorBody)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageWebhooks>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    webhooks::delete(&state.services, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's deliveries, oldest first (admin): status (`pending`, `delivered`, `dead`),
/// attempts, the next attempt, the last HTTP status and error (at most 512 bytes of the
/// receiver's answer are kept), and the signed payload.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id"), DeliveryQuery),
    responses((status = 200, description = "a page of deliveries; continue with `after` = the last id", body = DeliveryPage),
        (status = 400, description = "invalid_input: a bad status, after or limit", body = ErrorBody),
        (status = 404, description = "no such webhook in this tenant", body = ErrorBody)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageWebhooks>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryPage>> {
    Ok(Json(
        webhooks::deliveries(&state.services, &caller, &id, q).await?,
    ))
}

/// Send a delivery again (admin): a dead or delivered one becomes pending, due now, with a
/// fresh retry schedule and the same `webhook-id` (receivers drop duplicates by it); a
/// pending one is on its schedule already (409). Audited as `webhook.retry`.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id"),
           ("delivery_id" = String, Path, description = "delivery id")),
    responses((status = 202, description = "queued again", body = Delivery),
        (status = 404, description = "no such webhook or delivery in this tenant", body = ErrorBody),
        (status = 409, description = "the delivery is pending (on its retry schedule)", body = ErrorBody)))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageWebhooks>,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response> {
    let d = webhooks::retry(&state.services, &caller, &id, &delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(d)).into_response())
}
