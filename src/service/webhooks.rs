//! Webhooks: their management (`/v1/webhooks`), and the worker that delivers the outbox.
//!
//! Deliveries are signed in the Standard Webhooks format by the `standardwebhooks` crate
//! (headers `webhook-id`, `webhook-timestamp`, `webhook-signature`); the `webhook-id` is the
//! delivery's id, the same on every attempt, so receivers can drop duplicates. The worker
//! claims due deliveries (each the first pending one of its grant for its webhook, so a
//! grant's events arrive in order), sends them with bounded concurrency and a timeout per
//! attempt, and records the outcome: delivered, due again after the retry schedule's next
//! step (with jitter), or dead once the schedule (about 27.6 hours) is used up. It runs
//! beside the request path and shares nothing with it but the database, so a slow or dead
//! receiver never slows a decision or a grant write.
//!
//! Host names are resolved by a resolver of our own that drops non-public addresses
//! (unless `--allow-private-webhooks`), so a name that resolves to a private address — at
//! creation or, later, by DNS rebinding — is never reached; redirects are not followed.

use super::{Caller, Services};
use crate::domain::audit::{EventKind, NewEvent, Subject};
use crate::domain::webhook::{
    self, check_url, is_public, next_attempt, Delivery, DeliveryStatus, Outgoing, UrlPolicy,
    Webhook, EVENT_TYPES, MAX_EXCERPT, MAX_WEBHOOKS,
};
use crate::error::{Error, Result};
use crate::store::Attempted;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// How the worker delivers (flags `--webhook-*`, `--allow-*-webhooks`).
#[derive(Debug, Clone, Copy)]
pub struct DeliveryConfig {
    pub urls: UrlPolicy,
    /// The first retry's delay; later ones are multiples of it (`RETRY_STEPS`).
    pub retry_base: std::time::Duration,
    /// The most one attempt may take (connect, send, answer).
    pub timeout: std::time::Duration,
    /// Attempts in flight at once, over every webhook.
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            urls: UrlPolicy::default(),
            retry_base: std::time::Duration::from_secs(5),
            timeout: std::time::Duration::from_secs(10),
            concurrency: 16,
        }
    }
}

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCreate {
    /// Where deliveries are POSTed: `https://` (http only with `--allow-insecure-webhooks`),
    /// at most 2048 bytes, no credentials; loopback, private, link-local and other
    /// non-public addresses are refused (unless `--allow-private-webhooks`), also when a
    /// host name resolves to one at delivery time.
    pub url: String,
    /// The event types wanted (default: all): `grant.requested`,
    /// `grant.approval_required`, `grant.approved`, `grant.denied`, `grant.activated`,
    /// `grant.extended`, `grant.revoked`, `grant.expired`.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Only events of grants whose governing policy's `notification_channel` is this
    /// (at most 500 characters); absent: events of every grant.
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// The answer of `POST /v1/webhooks`: the webhook and its signing secret, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and the base64 key that signs every delivery (Standard Webhooks); not
    /// shown again.
    pub secret: String,
}

/// The query of `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead`.
    pub status: Option<String>,
    /// Deliveries after this one (the last id of the previous page), oldest first.
    pub after: Option<String>,
    /// 1..=200, default 50.
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
}

fn bad_id(what: &str) -> Error {
    Error::not_found(format!("no such {what}"))
}

/// `POST /v1/webhooks`.
pub async fn create(
    s: &Services,
    caller: &Caller,
    urls: UrlPolicy,
    body: WebhookCreate,
) -> Result<CreatedWebhook> {
    let url = check_url(&body.url, urls).map_err(Error::invalid)?;
    let event_types = match body.event_types {
        None => EVENT_TYPES.iter().map(|t| t.to_string()).collect(),
        Some(list) if list.is_empty() => {
            return Err(Error::invalid(
                "event_types: name at least one (or leave it out for all)",
            ))
        }
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for t in list {
                if !EVENT_TYPES.contains(&t.as_str()) {
                    return Err(Error::invalid(format!(
                        "event_types: {t:?} is not one of {}",
                        EVENT_TYPES.join(", ")
                    )));
                }
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            out
        }
    };
    for (field, v, max) in [
        ("channel", &body.channel, crate::domain::policy::MAX_CHANNEL),
        (
            "description",
            &body.description,
            crate::domain::policy::MAX_DESCRIPTION,
        ),
    ] {
        if let Some(v) = v {
            if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
                return Err(Error::invalid(format!(
                    "{field}: 1 to {max} characters without control characters"
                )));
            }
        }
    }
    let now = s.clock.now();
    let w = Webhook {
        id: Uuid::now_v7(),
        url: url.to_string(),
        event_types,
        channel: body.channel,
        description: body.description,
        created_at: now,
    };
    let secret = webhook::new_secret();
    let event = NewEvent::new(
        now,
        caller.actor(),
        EventKind::WebhookCreate,
        Subject::new("webhook", w.id),
    )
    .with_request(json!({"url": w.url, "event_types": w.event_types, "channel": w.channel}));
    if !s
        .store
        .create_webhook(caller.tenant_id, &w, &secret, event)
        .await?
    {
        return Err(Error::Conflict(format!(
            "a tenant has at most {MAX_WEBHOOKS} webhooks; delete one first"
        )));
    }
    Ok(CreatedWebhook { webhook: w, secret })
}

/// `GET /v1/webhooks`.
pub async fn list(s: &Services, caller: &Caller) -> Result<Vec<Webhook>> {
    s.store.list_webhooks(caller.tenant_id).await
}

/// `GET /v1/webhooks/{id}`.
pub async fn get(s: &Services, caller: &Caller, id: &str) -> Result<Webhook> {
    let id = Uuid::try_parse(id).map_err(|_| bad_id("webhook"))?;
    s.store
        .list_webhooks(caller.tenant_id)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| bad_id("webhook"))
}

/// `DELETE /v1/webhooks/{id}`: the webhook and its deliveries (pending ones are not sent).
pub async fn delete(s: &Services, caller: &Caller, id: &str) -> Result<()> {
    let id = Uuid::try_parse(id).map_err(|_| bad_id("webhook"))?;
    let event = NewEvent::new(
        s.clock.now(),
        caller.actor(),
        EventKind::WebhookDelete,
        Subject::new("webhook", id),
    );
    if !s.store.delete_webhook(caller.tenant_id, id, event).await? {
        return Err(bad_id("webhook"));
    }
    Ok(())
}

/// `GET /v1/webhooks/{id}/deliveries`.
pub async fn deliveries(
    s: &Services,
    caller: &Caller,
    id: &str,
    q: DeliveryQuery,
) -> Result<DeliveryPage> {
    let hook = get(s, caller, id).await?;
    let status = q
        .status
        .as_deref()
        .map(|v| {
            DeliveryStatus::parse(v)
                .ok_or_else(|| Error::invalid("status: one of pending, delivered, dead"))
        })
        .transpose()?;
    let after = q
        .after
        .as_deref()
        .map(|v| Uuid::try_parse(v).map_err(|_| Error::invalid("after: a delivery id")))
        .transpose()?;
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| Error::invalid("limit: an integer 1 to 200"))?,
    };
    let items = s
        .store
        .list_deliveries(caller.tenant_id, hook.id, status, after, limit)
        .await?;
    Ok(DeliveryPage { items })
}

/// `POST /v1/webhooks/{id}/deliveries/{delivery}/retry`: due again now, with a fresh
/// retry schedule and the same `webhook-id`.
pub async fn retry(s: &Services, caller: &Caller, id: &str, delivery: &str) -> Result<Delivery> {
    let hook = get(s, caller, id).await?;
    let delivery = Uuid::try_parse(delivery).map_err(|_| bad_id("delivery"))?;
    let now = s.clock.now();
    let event = NewEvent::new(
        now,
        caller.actor(),
        EventKind::WebhookRetry,
        Subject::new("webhook", hook.id),
    )
    .with_request(json!({"delivery_id": delivery}));
    s.store
        .retry_delivery(caller.tenant_id, hook.id, delivery, now, event)
        .await?
        .ok_or_else(|| bad_id("delivery"))
}

/// Resolves host names for deliveries, keeping only the addresses a webhook may reach.
struct PublicResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (webhooks may not reach private ones)"
                )
                .into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of deliveries: no redirects, no proxy from the environment, the
/// resolver above, a timeout per attempt.
fn client(cfg: &DeliveryConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .dns_resolver(Arc::new(PublicResolver {
            allow_private: cfg.urls.allow_private,
        }))
        .user_agent(concat!("grantd-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client without custom TLS builds")
}

/// Sends one delivery; `Ok(status, excerpt)` when the receiver answered.
async fn send(
    client: &reqwest::Client,
    cfg: &DeliveryConfig,
    d: &Outgoing,
) -> std::result::Result<(u16, String), String> {
    // checked again: the flags may have changed since the webhook was created
    let url = check_url(&d.url, cfg.urls)?;
    let signer = standardwebhooks::Webhook::new(&d.secret).map_err(|e| format!("{e:?}"))?;
    let timestamp = chrono::Utc::now().timestamp();
    let id = d.id.to_string();
    let signature = signer
        .sign(&id, timestamp, d.payload.as_bytes())
        .map_err(|e| format!("{e:?}"))?;
    let mut resp = client
        .post(url)
        .header("content-type", "application/json")
        .header(standardwebhooks::HEADER_WEBHOOK_ID, &id)
        .header(
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string(),
        )
        .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| {
            let mut m = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                m.push_str(&format!(": {s}"));
                source = s.source();
            }
            m
        })?;
    let status = resp.status().as_u16();
    // a bounded excerpt of the answer, never more
    let mut excerpt = Vec::new();
    while excerpt.len() < MAX_EXCERPT {
        match resp.chunk().await {
            Ok(Some(c)) => {
                excerpt.extend_from_slice(&c[..c.len().min(MAX_EXCERPT - excerpt.len())])
            }
            _ => break,
        }
    }
    Ok((
        status,
        truncate(&String::from_utf8_lossy(&excerpt), MAX_EXCERPT),
    ))
}

/// What an attempt's outcome leaves the delivery as.
fn outcome(
    d: &Outgoing,
    answer: std::result::Result<(u16, String), String>,
    now: chrono::DateTime<chrono::Utc>,
    cfg: &DeliveryConfig,
) -> Attempted {
    let (last_status, last_error, ok) = match answer {
        Ok((status, excerpt)) => (
            Some(i64::from(status)),
            (!excerpt.is_empty()).then_some(excerpt),
            (200..300).contains(&status),
        ),
        Err(e) => (None, Some(truncate(&e, MAX_EXCERPT)), false),
    };
    if ok {
        return Attempted {
            attempt: d.attempts,
            status: DeliveryStatus::Delivered,
            next_attempt_at: None,
            last_status,
            last_error,
            delivered_at: Some(now),
        };
    }
    let next = next_attempt(now, d.attempts, cfg.retry_base, rand::random::<f64>());
    Attempted {
        attempt: d.attempts,
        status: if next.is_some() {
            DeliveryStatus::Pending
        } else {
            DeliveryStatus::Dead
        },
        next_attempt_at: next,
        last_status,
        last_error,
        delivered_at: None,
    }
}

/// At most `max` bytes of `s`, with control characters (NUL among them, which no
/// PostgreSQL text may hold) shown as `\u{..}` escapes: what a receiver answered is kept
/// as text that every store accepts.
fn truncate(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let piece = if c.is_control() && c != '\n' && c != '\t' {
            c.escape_unicode().to_string()
        } else {
            c.to_string()
        };
        if out.len() + piece.len() > max {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// Delivered and dead deliveries are kept this many days (to be seen and replayed), then
/// pruned by the worker.
pub const RETENTION_DAYS: i64 = 30;

/// The delivery worker: until `stop`, claims what is due and sends it, at most
/// `cfg.concurrency` attempts at once.
pub async fn run(
    s: Services,
    cfg: DeliveryConfig,
    poll: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let client = client(&cfg);
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let failures = crate::throttle::LogThrottle::new(std::time::Duration::from_secs(10));
    // an attempt's lease: its timeout and some slack; a worker that died mid-attempt
    // leaves the delivery due again after it
    let lease =
        chrono::Duration::from_std(cfg.timeout).unwrap_or_default() + chrono::Duration::seconds(5);
    let mut last_prune: Option<std::time::Instant> = None;
    // attempts in flight per webhook, and the share of the slots one webhook may hold
    let in_flight: Arc<std::sync::Mutex<std::collections::HashMap<Uuid, usize>>> = Arc::default();
    let per_webhook = (cfg.concurrency / 4).max(1);
    // an attempt recorded frees a slot, and may make its grant's next event due: look again
    let finished = Arc::new(tokio::sync::Notify::new());
    let (recorded, outcomes) = tokio::sync::mpsc::channel(cfg.concurrency.max(1));
    let recorder = tokio::spawn(record(s.clone(), outcomes));
    loop {
        // hourly: finished deliveries older than the retention go
        if last_prune.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(3600)) {
            last_prune = Some(std::time::Instant::now());
            let before = s.clock.now() - chrono::Duration::days(RETENTION_DAYS);
            loop {
                match s.store.prune_deliveries(before, 1000).await {
                    Ok(1000) => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = ?e, "finished webhook deliveries could not be pruned");
                        break;
                    }
                }
            }
        }
        let free = slots.available_permits();
        let mut claimed = 0;
        if free > 0 {
            let now = s.clock.now();
            // webhooks with their share of the slots in flight wait: a receiver that hangs
            // holds at most about two shares, and every other webhook goes on
            let busy: Vec<Uuid> = in_flight
                .lock()
                .expect("in-flight lock")
                .iter()
                .filter(|(_, n)| **n >= per_webhook)
                .map(|(id, _)| *id)
                .collect();
            match s
                .store
                .claim_deliveries(now, now + lease, free as i64, per_webhook as i64, &busy)
                .await
            {
                Ok(batch) => {
                    claimed = batch.len();
                    for d in batch {
                        let permit = slots.clone().acquire_owned().await.expect("never closed");
                        *in_flight
                            .lock()
                            .expect("in-flight lock")
                            .entry(d.webhook_id)
                            .or_default() += 1;
                        let (s, client, in_flight, recorded, finished) = (
                            s.clone(),
                            client.clone(),
                            in_flight.clone(),
                            recorded.clone(),
                            finished.clone(),
                        );
                        tokio::spawn(async move {
                            let answer = send(&client, &cfg, &d).await;
                            let done = outcome(&d, answer, s.clock.now(), &cfg);
                            // recorded with others in one transaction; the slot is free
                            // once it is
                            let (tx, rx) = tokio::sync::oneshot::channel();
                            if recorded.send((d.tenant, d.id, done, tx)).await.is_ok() {
                                let _ = rx.await;
                            }
                            let mut counts = in_flight.lock().expect("in-flight lock");
                            if let Some(n) = counts.get_mut(&d.webhook_id) {
                                *n -= 1;
                                if *n == 0 {
                                    counts.remove(&d.webhook_id);
                                }
                            }
                            drop(permit);
                            finished.notify_one();
                        });
                    }
                }
                Err(e) => {
                    if let Some(n) = failures.admit() {
                        tracing::warn!(error = ?e, earlier_not_logged = n, "webhook deliveries could not be claimed");
                    }
                }
            }
        }
        if claimed == 0 {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = finished.notified() => {}
                _ = stop.changed() => break,
            }
        } else if *stop.borrow() {
            break;
        }
    }
    // Attempts still in flight hold a sender each: the recorder ends with the last of them.
    // Shutdown waits a second for them; one cut short is sent again after its lease.
    drop(recorded);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), recorder).await;
}

/// An attempt's outcome on its way to the store, and who waits for it to be recorded.
type Outcome = (
    crate::domain::ids::TenantId,
    Uuid,
    Attempted,
    tokio::sync::oneshot::Sender<()>,
);

/// Records outcomes as they come, all those waiting in one transaction (a busy worker
/// takes the write lock once per batch, not once per delivery).
async fn record(s: Services, mut outcomes: tokio::sync::mpsc::Receiver<Outcome>) {
    let mut batch = Vec::new();
    while outcomes.recv_many(&mut batch, 256).await > 0 {
        let done: Vec<_> = batch
            .iter()
            .map(|(t, id, a, _)| (*t, *id, a.clone()))
            .collect();
        if let Err(e) = s.store.finish_deliveries(&done).await {
            tracing::warn!(error = ?e, deliveries = done.len(), "could not record webhook deliveries; they are sent again after their lease");
        }
        for (_, _, _, waiting) in batch.drain(..) {
            let _ = waiting.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(attempts: i64) -> Outgoing {
        Outgoing {
            tenant: crate::domain::ids::TenantId(Uuid::now_v7()),
            id: Uuid::now_v7(),
            webhook_id: Uuid::now_v7(),
            url: "https://example.com".into(),
            secret: webhook::new_secret(),
            payload: "{}".into(),
            attempts,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn outcomes_follow_the_answer_and_the_schedule() {
        let cfg = DeliveryConfig::default();
        let now = chrono::Utc::now();
        let ok = outcome(&outgoing(1), Ok((204, String::new())), now, &cfg);
        assert_eq!(ok.status, DeliveryStatus::Delivered);
        assert_eq!(ok.delivered_at, Some(now));
        let retry = outcome(&outgoing(1), Ok((500, "x".repeat(2000))), now, &cfg);
        assert_eq!(retry.status, DeliveryStatus::Pending);
        assert!(retry.next_attempt_at.unwrap() > now);
        let refused = outcome(&outgoing(3), Err("connection refused".into()), now, &cfg);
        assert_eq!(refused.status, DeliveryStatus::Pending);
        assert_eq!(refused.last_status, None);
        let dead = outcome(&outgoing(8), Ok((503, String::new())), now, &cfg);
        assert_eq!(dead.status, DeliveryStatus::Dead);
        assert_eq!(dead.next_attempt_at, None);
        // a redirect is not a delivery
        let moved = outcome(&outgoing(1), Ok((301, String::new())), now, &cfg);
        assert_eq!(moved.status, DeliveryStatus::Pending);
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate("ok\0x", 100), "ok\\u{0}x");
        assert!(!truncate(&"\0".repeat(600), 512).contains('\0'));
        assert!(truncate(&"\0".repeat(600), 512).len() <= 512);
    }
}
