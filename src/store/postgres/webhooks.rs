//! Webhooks and their outbox: the rows `WriteTx::append` adds for grant events, and the
//! delivery worker's claims (`FOR UPDATE SKIP LOCKED`, so instances sharing the database
//! never send one delivery twice at once) and outcomes.

use super::grants::{grant_from_row, GRANT_COLUMNS, GRANT_FROM};
use super::*;
use crate::domain::webhook::{
    event_types, payload, wants, Delivery, DeliveryStatus, Outgoing, Webhook, MAX_WEBHOOKS,
};
use crate::store::{Attempted, WebhookStore};
use sqlx::types::Json;

/// A webhook as the outbox needs it: id, event types, channel.
type Hook = (Uuid, Vec<String>, Option<String>);

/// Writes the outbox rows of appended grant events of tenants that have webhooks, in the
/// appending transaction (see the SQLite `webhooks::enqueue`).
pub(super) async fn enqueue(
    conn: &mut PgConnection,
    events: &[(TenantId, &AuditEvent)],
) -> Result<()> {
    let tenants: Vec<Uuid> = events.iter().map(|(t, _)| t.0).collect();
    let rows = sqlx::query(
        "SELECT tenant_id, id, event_types, channel FROM webhooks WHERE tenant_id = ANY($1)",
    )
    .bind(&tenants)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut hooks: HashMap<TenantId, Vec<Hook>> = HashMap::new();
    for r in rows {
        let types: Json<Vec<String>> = r.try_get("event_types")?;
        hooks
            .entry(TenantId(r.try_get("tenant_id")?))
            .or_default()
            .push((r.try_get("id")?, types.0, r.try_get("channel")?));
    }
    let (mut tenant, mut id, mut hook, mut ty) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut grant, mut seq, mut ord, mut body, mut at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (t, e) in events {
        let Some(list) = hooks.get(t) else { continue };
        let c = &e.content;
        let Ok(grant_id) = c.subject.id.parse::<Uuid>() else {
            continue;
        };
        let Some(row) = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS}, (p.doc::jsonb ->> 'notification_channel') AS channel \
             {GRANT_FROM} WHERE g.tenant_id = $1 AND g.id = $2"
        ))
        .bind(t.0)
        .bind(grant_id)
        .fetch_optional(&mut *conn)
        .await?
        else {
            continue;
        };
        let g = grant_from_row(&row)?;
        let channel: Option<String> = row.try_get("channel")?;
        for (i, event_type) in event_types(e, &g).into_iter().enumerate() {
            let text = payload(event_type, e, &g, channel.as_deref());
            for (h, types, hook_channel) in list {
                if !wants(
                    types,
                    hook_channel.as_deref(),
                    event_type,
                    channel.as_deref(),
                ) {
                    continue;
                }
                tenant.push(t.0);
                id.push(Uuid::now_v7());
                hook.push(*h);
                ty.push(event_type);
                grant.push(g.id);
                seq.push(c.seq);
                ord.push(i as i64);
                body.push(text.clone());
                at.push(c.at);
            }
        }
    }
    if tenant.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event_type, grant_id, seq, \
         ord, payload, status, attempts, next_attempt_at, created_at) \
         SELECT t, i, h, ty, g, s, o, b, 'pending', 0, a, a FROM unnest($1::uuid[], $2::uuid[], \
         $3::uuid[], $4::text[], $5::uuid[], $6::bigint[], $7::bigint[], $8::text[], \
         $9::timestamptz[]) AS v(t, i, h, ty, g, s, o, b, a)",
    )
    .bind(&tenant)
    .bind(&id)
    .bind(&hook)
    .bind(&ty)
    .bind(&grant)
    .bind(&seq)
    .bind(&ord)
    .bind(&body)
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn webhook_from_row(row: &PgRow) -> Result<Webhook> {
    let types: Json<Vec<String>> = row.try_get("event_types")?;
    Ok(Webhook {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        event_types: types.0,
        channel: row.try_get("channel")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
    })
}

fn delivery_from_row(row: &PgRow) -> Result<Delivery> {
    let status: String = row.try_get("status")?;
    let body: String = row.try_get("payload")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        event_type: row.try_get("event_type")?,
        grant_id: row.try_get("grant_id")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt("webhook_deliveries.status"))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        payload: serde_json::from_str(&body).map_err(|_| corrupt("webhook_deliveries.payload"))?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

#[async_trait::async_trait]
impl WebhookStore for PgStore {
    async fn create_webhook(
        &self,
        tenant: TenantId,
        w: &Webhook,
        secret: &str,
        event: NewEvent,
    ) -> Result<bool> {
        // holding the tenant's head: a grant write either sees the new webhook or
        // committed before it
        let mut tx = self.write_tx(&[tenant]).await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(&mut *tx)
            .await?;
        if n >= MAX_WEBHOOKS {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhooks (tenant_id, id, url, event_types, channel, description, \
             secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant.0)
        .bind(w.id)
        .bind(&w.url)
        .bind(Json(&w.event_types))
        .bind(&w.channel)
        .bind(&w.description)
        .bind(secret)
        .bind(w.created_at)
        .execute(&mut *tx)
        .await?;
        tx.append(vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<Webhook>> {
        sqlx::query("SELECT * FROM webhooks WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(webhook_from_row)
            .collect()
    }

    async fn delete_webhook(&self, tenant: TenantId, id: Uuid, event: NewEvent) -> Result<bool> {
        let mut tx = self.write_tx(&[tenant]).await?;
        let r = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.append(vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook: Uuid,
        status: Option<DeliveryStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
             AND ($3::text IS NULL OR status = $3) AND ($4::uuid IS NULL OR id > $4) \
             ORDER BY id LIMIT $5",
        )
        .bind(tenant.0)
        .bind(webhook)
        .bind(status.map(|s| s.as_str()))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    async fn retry_delivery(
        &self,
        tenant: TenantId,
        webhook: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<Option<Delivery>> {
        let mut tx = self.write_tx(&[tenant]).await?;
        let Some(row) = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
             next_attempt_at = $1, delivered_at = NULL \
             WHERE tenant_id = $2 AND webhook_id = $3 AND id = $4 AND status <> 'pending' RETURNING *",
        )
        .bind(now)
        .bind(tenant.0)
        .bind(webhook)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            let exists: Option<String> = sqlx::query_scalar(
                "SELECT status FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
                 AND id = $3",
            )
            .bind(tenant.0)
            .bind(webhook)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            return match exists {
                Some(_) => Err(Error::Conflict(
                    "the delivery is pending: it is sent on its retry schedule (retry a \
                     delivered or dead one)"
                        .into(),
                )),
                None => Ok(None),
            };
        };
        tx.append(vec![(tenant, event)]).await?;
        tx.commit().await?;
        delivery_from_row(&row).map(Some)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_webhook: i64,
        busy: &[Uuid],
    ) -> Result<Vec<Outgoing>> {
        // Candidates numbered per webhook (a bounded number of each), then locked; the
        // locking level repeats the due conditions, so a row another instance claimed
        // meanwhile is re-checked on its new version and left alone.
        let rows = sqlx::query(
            "WITH candidates AS (SELECT d.tenant_id, d.id, d.next_attempt_at, \
                ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at) AS n \
                FROM webhook_deliveries d \
                WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
                AND NOT (d.webhook_id = ANY($4)) \
                AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
                    WHERE e.webhook_id = d.webhook_id AND e.grant_id = d.grant_id \
                    AND e.status = 'pending' AND (e.seq, e.ord) < (d.seq, d.ord))), \
             due AS (SELECT d.tenant_id, d.id FROM webhook_deliveries d \
                WHERE (d.tenant_id, d.id) IN (SELECT tenant_id, id FROM candidates \
                    WHERE n <= $5 ORDER BY next_attempt_at LIMIT $2) \
                AND d.status = 'pending' AND d.next_attempt_at <= $1 \
                FOR UPDATE OF d SKIP LOCKED) \
             UPDATE webhook_deliveries x SET attempts = x.attempts + 1, next_attempt_at = $3 \
             FROM due, webhooks w WHERE x.tenant_id = due.tenant_id AND x.id = due.id \
             AND w.tenant_id = x.tenant_id AND w.id = x.webhook_id \
             RETURNING x.tenant_id, x.id, x.webhook_id, x.payload, x.attempts, x.created_at, \
             w.url, w.secret",
        )
        .bind(now)
        .bind(limit)
        .bind(lease_until)
        .bind(busy)
        .bind(per_webhook)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Outgoing {
                    tenant: TenantId(r.try_get("tenant_id")?),
                    id: r.try_get("id")?,
                    webhook_id: r.try_get("webhook_id")?,
                    url: r.try_get("url")?,
                    secret: r.try_get("secret")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn finish_deliveries(&self, done: &[(TenantId, Uuid, Attempted)]) -> Result<()> {
        // one statement for the batch
        let (mut tenant, mut id, mut attempt, mut status) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut next, mut last_status, mut last_error, mut delivered) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (t, i, a) in done {
            tenant.push(t.0);
            id.push(*i);
            attempt.push(a.attempt);
            status.push(a.status.as_str());
            next.push(a.next_attempt_at);
            last_status.push(a.last_status);
            last_error.push(a.last_error.clone());
            delivered.push(a.delivered_at);
        }
        sqlx::query(
            "UPDATE webhook_deliveries d SET status = v.status, next_attempt_at = v.next, \
             last_status = v.last_status, last_error = v.last_error, delivered_at = v.delivered \
             FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::timestamptz[], \
             $6::bigint[], $7::text[], $8::timestamptz[]) \
             AS v(tenant_id, id, attempt, status, next, last_status, last_error, delivered) \
             WHERE d.tenant_id = v.tenant_id AND d.id = v.id AND d.status = 'pending' \
             AND d.attempts = v.attempt",
        )
        .bind(&tenant)
        .bind(&id)
        .bind(&attempt)
        .bind(&status)
        .bind(&next)
        .bind(&last_status)
        .bind(&last_error)
        .bind(&delivered)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>, limit: i64) -> Result<u64> {
        let r = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE (tenant_id, id) IN (SELECT tenant_id, id \
             FROM webhook_deliveries WHERE status IN ('delivered', 'dead') AND created_at < $1 \
             LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }
}
