//! Webhooks and their outbox: the rows `append_in_tx` adds for grant events, and the
//! delivery worker's claims and outcomes.

use super::grants::{grant_from_row, GRANT_COLUMNS, GRANT_FROM};
use super::*;
use crate::domain::webhook::{
    event_types, payload, wants, Delivery, DeliveryStatus, Outgoing, Webhook, MAX_WEBHOOKS,
};
use crate::store::{Attempted, WebhookStore};
use std::collections::HashMap;
use uuid::Uuid;

/// A tenant's webhooks as the outbox needs them: id, event types, channel.
type Hooks = Vec<(String, Vec<String>, Option<String>)>;

/// One outbox row to insert: tenant, webhook, event type, grant, seq, ord, payload, time.
type OutboxRow = (
    String,
    String,
    &'static str,
    String,
    i64,
    i64,
    Arc<str>,
    String,
);

/// Writes the outbox rows of appended events (see `domain::webhook::event_types`), in the
/// appending transaction: each event of a grant, with the grant as the transaction left it,
/// to every webhook of its tenant that wants it.
pub(super) async fn enqueue(
    conn: &mut SqliteConnection,
    events: &[(TenantId, &AuditEvent)],
) -> Result<()> {
    let mut hooks: HashMap<TenantId, Hooks> = HashMap::new();
    // (tenant, webhook, event type, grant, seq, ord, payload, at)
    let mut rows: Vec<OutboxRow> = Vec::new();
    for (tenant, e) in events {
        let c = &e.content;
        if !hooks.contains_key(tenant) {
            let rows =
                sqlx::query("SELECT id, event_types, channel FROM webhooks WHERE tenant_id = $1")
                    .bind(tenant.to_string())
                    .fetch_all(&mut *conn)
                    .await?;
            let mut list = Vec::with_capacity(rows.len());
            for r in rows {
                let types: String = r.try_get("event_types")?;
                list.push((
                    r.try_get("id")?,
                    serde_json::from_str(&types).map_err(|_| corrupt("webhooks.event_types"))?,
                    r.try_get("channel")?,
                ));
            }
            hooks.insert(*tenant, list);
        }
        let list = &hooks[tenant];
        if list.is_empty() {
            continue;
        }
        let Some(row) = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS}, json_extract(p.doc, '$.notification_channel') AS channel \
             {GRANT_FROM} WHERE g.tenant_id = $1 AND g.id = $2"
        ))
        .bind(tenant.to_string())
        .bind(&c.subject.id)
        .fetch_optional(&mut *conn)
        .await?
        else {
            continue;
        };
        let g = grant_from_row(&row)?;
        let channel: Option<String> = row.try_get("channel")?;
        for (ord, ty) in event_types(e, &g).into_iter().enumerate() {
            let body: Arc<str> = payload(ty, e, &g, channel.as_deref()).into();
            for (hook, types, hook_channel) in list {
                if wants(types, hook_channel.as_deref(), ty, channel.as_deref()) {
                    rows.push((
                        tenant.to_string(),
                        hook.clone(),
                        ty,
                        g.id.to_string(),
                        c.seq,
                        ord as i64,
                        body.clone(),
                        format_ts(&c.at),
                    ));
                }
            }
        }
    }
    // many rows per statement: a bulk revoke's outbox is a few statements, not one each
    for chunk in rows.chunks(64) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event_type, grant_id, \
             seq, ord, payload, status, attempts, next_attempt_at, created_at) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.0.clone())
                .push_bind(Uuid::now_v7().to_string())
                .push_bind(r.1.clone())
                .push_bind(r.2)
                .push_bind(r.3.clone())
                .push_bind(r.4)
                .push_bind(r.5)
                .push_bind(r.6.to_string())
                .push_bind("pending")
                .push_bind(0i64)
                .push_bind(r.7.clone())
                .push_bind(r.7.clone());
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

fn still_pending() -> Error {
    Error::Conflict(
        "the delivery is pending: it is sent on its retry schedule (retry a delivered or dead one)"
            .into(),
    )
}

fn webhook_from_row(row: &SqliteRow) -> Result<Webhook> {
    let id: String = row.try_get("id")?;
    let types: String = row.try_get("event_types")?;
    Ok(Webhook {
        id: id.parse().map_err(|_| corrupt("webhooks.id"))?,
        url: row.try_get("url")?,
        event_types: serde_json::from_str(&types).map_err(|_| corrupt("webhooks.event_types"))?,
        channel: row.try_get("channel")?,
        description: row.try_get("description")?,
        created_at: ts_col(row, "created_at")?,
    })
}

fn delivery_from_row(row: &SqliteRow) -> Result<Delivery> {
    let id: String = row.try_get("id")?;
    let hook: String = row.try_get("webhook_id")?;
    let grant: String = row.try_get("grant_id")?;
    let status: String = row.try_get("status")?;
    let body: String = row.try_get("payload")?;
    Ok(Delivery {
        id: id.parse().map_err(|_| corrupt("webhook_deliveries.id"))?,
        webhook_id: hook
            .parse()
            .map_err(|_| corrupt("webhook_deliveries.webhook_id"))?,
        event_type: row.try_get("event_type")?,
        grant_id: grant
            .parse()
            .map_err(|_| corrupt("webhook_deliveries.grant_id"))?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt("webhook_deliveries.status"))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: opt_ts_col(row, "next_attempt_at")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        payload: serde_json::from_str(&body).map_err(|_| corrupt("webhook_deliveries.payload"))?,
        created_at: ts_col(row, "created_at")?,
        delivered_at: opt_ts_col(row, "delivered_at")?,
    })
}

#[async_trait::async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(
        &self,
        tenant: TenantId,
        w: &Webhook,
        secret: &str,
        event: NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if n >= MAX_WEBHOOKS {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhooks (tenant_id, id, url, event_types, channel, description, \
             secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant.to_string())
        .bind(w.id.to_string())
        .bind(&w.url)
        .bind(serde_json::to_string(&w.event_types).map_err(Error::internal)?)
        .bind(&w.channel)
        .bind(&w.description)
        .bind(secret)
        .bind(format_ts(&w.created_at))
        .execute(&mut *tx)
        .await?;
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<Webhook>> {
        sqlx::query("SELECT * FROM webhooks WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(webhook_from_row)
            .collect()
    }

    async fn delete_webhook(&self, tenant: TenantId, id: Uuid, event: NewEvent) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
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
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT * FROM webhook_deliveries WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string())
            .push(" AND webhook_id = ")
            .push_bind(webhook.to_string());
        if let Some(s) = status {
            q.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(a) = after {
            q.push(" AND id > ").push_bind(a.to_string());
        }
        q.push(" ORDER BY id LIMIT ").push_bind(limit);
        q.build()
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
        let mut tx = self.write_tx().await?;
        let r = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
             next_attempt_at = $1, delivered_at = NULL \
             WHERE tenant_id = $2 AND webhook_id = $3 AND id = $4 AND status <> 'pending'",
        )
        .bind(format_ts(&now))
        .bind(tenant.to_string())
        .bind(webhook.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            let pending: Option<String> = sqlx::query_scalar(
                "SELECT status FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
                 AND id = $3",
            )
            .bind(tenant.to_string())
            .bind(webhook.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            return match pending {
                Some(_) => Err(still_pending()),
                None => Ok(None),
            };
        }
        let row = sqlx::query("SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
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
        let claim = || {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(CLAIM_SQL);
            q.push_bind(format_ts(&now));
            if !busy.is_empty() {
                q.push(" AND d.webhook_id NOT IN (");
                let mut list = q.separated(", ");
                for b in busy {
                    list.push_bind(b.to_string());
                }
                q.push(")");
            }
            q.push(") WHERE n <= ")
                .push_bind(per_webhook)
                .push(" ORDER BY next_attempt_at LIMIT ")
                .push_bind(limit);
            q
        };
        // Most polls find nothing to send (nothing due, or only events waiting behind an
        // earlier one of their grant): a read says so without taking the write lock.
        if claim().build().fetch_optional(&self.pool).await?.is_none() {
            return Ok(Vec::new());
        }
        // SQLite's write lock only: the outbox is not the audit chain, so the decision
        // journal's writer never waits for the delivery worker
        let (_turn, mut tx) = self.begin_immediate().await?;
        let rows = claim().build().fetch_all(&mut *tx).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let tenant: String = r.try_get("tenant_id")?;
            let id: String = r.try_get("id")?;
            let hook: String = r.try_get("webhook_id")?;
            let attempts: i64 = r.try_get("attempts")?;
            sqlx::query(
                "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2 \
                 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(attempts + 1)
            .bind(format_ts(&lease_until))
            .bind(&tenant)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            out.push(Outgoing {
                tenant: tenant
                    .parse()
                    .map_err(|_| corrupt("webhook_deliveries.tenant_id"))?,
                id: id.parse().map_err(|_| corrupt("webhook_deliveries.id"))?,
                webhook_id: hook
                    .parse()
                    .map_err(|_| corrupt("webhook_deliveries.webhook_id"))?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
                payload: r.try_get("payload")?,
                attempts: attempts + 1,
                created_at: ts_col(r, "created_at")?,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn finish_deliveries(&self, done: &[(TenantId, Uuid, Attempted)]) -> Result<()> {
        let (_turn, mut tx) = self.begin_immediate().await?;
        for (tenant, id, a) in done {
            sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, last_status = $3, \
             last_error = $4, delivered_at = $5 \
             WHERE tenant_id = $6 AND id = $7 AND status = 'pending' AND attempts = $8",
        )
        .bind(a.status.as_str())
        .bind(a.next_attempt_at.as_ref().map(format_ts))
        .bind(a.last_status)
        .bind(&a.last_error)
        .bind(a.delivered_at.as_ref().map(format_ts))
        .bind(tenant.to_string())
        .bind(id.to_string())
            .bind(a.attempt)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>, limit: i64) -> Result<u64> {
        self.prune_finished(before, limit).await
    }
}

impl SqliteStore {
    pub(super) async fn prune_finished(&self, before: DateTime<Utc>, limit: i64) -> Result<u64> {
        let (_turn, mut tx) = self.begin_immediate().await?;
        let r = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE rowid IN (SELECT rowid FROM webhook_deliveries \
             WHERE status IN ('delivered', 'dead') AND created_at < $1 LIMIT $2)",
        )
        .bind(format_ts(&before))
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }
}

/// Due deliveries (with their webhook's URL and secret), each the first still pending of
/// its grant for its webhook: per webhook, a grant's events go out in the order of its
/// audit chain. Numbered per webhook, so a claim takes a bounded number of each (the
/// caller closes the inner query and filters on `n`).
const CLAIM_SQL: &str = "SELECT * FROM (SELECT d.tenant_id, d.id, d.webhook_id, d.payload, \
    d.attempts, d.created_at, d.next_attempt_at, w.url, w.secret, \
    ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at) AS n \
    FROM webhook_deliveries d \
    JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id \
    WHERE d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
        WHERE e.webhook_id = d.webhook_id \
        AND e.grant_id = d.grant_id AND e.status = 'pending' \
        AND (e.seq < d.seq OR (e.seq = d.seq AND e.ord < d.ord))) \
    AND d.next_attempt_at <= ";
