//! The audit log: appends (a group commit of decision events is one transaction and one
//! statement, see `WriteTx::append`), reads, retention and verification.

use super::*;
use futures_util::TryStreamExt;

/// Tenants' decision batches committed at once, each on a pooled connection of its own.
const PARALLEL_BATCHES: usize = 4;

#[async_trait::async_trait]
impl AuditStore for PgStore {
    /// Each tenant's chain is locked by its own head row, so tenants' batches commit in
    /// parallel: one tenant's flood does not queue another tenant's decisions behind it.
    fn start_decision_writer(
        &self,
        this: crate::store::DynStore,
        capacity: usize,
        max_batch: usize,
    ) -> (crate::audit::AuditWriter, tokio::task::JoinHandle<()>) {
        crate::audit::AuditWriter::spawn_per_tenant(this, capacity, max_batch, PARALLEL_BATCHES)
    }

    async fn append_events(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>> {
        let tenants: Vec<TenantId> = events.iter().map(|(t, _)| *t).collect();
        let mut tx = self.write_tx(&tenants).await?;
        let out = tx.append(events).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn list_events(
        &self,
        tenant: TenantId,
        filter: &EventFilter,
        after_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "SELECT body, prev_hash, hash FROM audit_events WHERE tenant_id = ",
        );
        q.push_bind(tenant.0);
        if let Some(k) = &filter.kind {
            q.push(" AND kind = ").push_bind(k.clone());
        }
        // `at` never decreases along `seq`, so a time bound is also a seq bound (the first
        // event at or after it), and the scan runs in seq order from there.
        let first_at_or_after = |q: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>,
                                 t: &DateTime<Utc>| {
            q.push("(SELECT seq FROM audit_events WHERE tenant_id = ")
                .push_bind(tenant.0)
                .push(" AND at >= ")
                .push_bind(*t)
                .push(" ORDER BY at, seq LIMIT 1)");
        };
        if let Some(t) = &filter.since {
            q.push(" AND at >= ").push_bind(*t);
            q.push(" AND seq >= COALESCE(");
            first_at_or_after(&mut q, t);
            q.push(", 9223372036854775807)");
        }
        if let Some(t) = &filter.until {
            q.push(" AND at < ").push_bind(*t);
            q.push(" AND seq < COALESCE(");
            first_at_or_after(&mut q, t);
            q.push(", 9223372036854775807)");
        }
        if let Some(sub) = &filter.subject {
            q.push(" AND subject_id = ").push_bind(sub.clone());
        }
        if let Some(d) = &filter.decision {
            q.push(" AND decision = ").push_bind(d.clone());
        }
        if let Some(a) = after_seq {
            q.push(" AND seq > ").push_bind(a);
        }
        q.push(" ORDER BY seq LIMIT ").push_bind(limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                Ok(AuditEvent {
                    content: serde_json::from_str(&body)
                        .map_err(|_| corrupt("audit_events.body"))?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    async fn recent_decisions(
        &self,
        tenant: TenantId,
        since: DateTime<Utc>,
        before_seq: Option<i64>,
        limit: i64,
        max_len: i64,
    ) -> Result<Vec<(i64, Option<String>)>> {
        // Newest first along the primary key: decisions are most of a busy tenant's events,
        // so the walk stops after about `limit` rows; the seq bound (the first event in the
        // window, `at` being non-decreasing along `seq`) ends it at the window's start.
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT seq, CASE WHEN octet_length(body) <= $5 THEN body END AS body \
             FROM audit_events WHERE tenant_id = $1 \
             AND kind IN ('authorize', 'grant.request', 'grant.extend') \
             AND decision IS NOT NULL AND at >= $2 \
             AND seq >= COALESCE((SELECT seq FROM audit_events WHERE tenant_id = $1 \
                 AND at >= $2 ORDER BY at, seq LIMIT 1), 9223372036854775807) \
             AND seq < $4 ORDER BY seq DESC LIMIT $3",
        )
        .bind(tenant.0)
        .bind(since)
        .bind(limit)
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(max_len)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64> {
        let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM audit_heads")
            .fetch_all(&self.pool)
            .await?;
        let mut deleted = 0;
        for tenant in tenants {
            let mut tx = self.write_tx(&[]).await?;
            if !take_job(&mut tx, Job::Retention).await? {
                // another process is pruning now, and will do the rest
                break;
            }
            tx.lock(&[TenantId(tenant)]).await?;
            // The anchor moves only over a gap-free prefix: everything up to the first event
            // that is still within the retention period.
            let keep_from: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(seq) FROM audit_events WHERE tenant_id = $1 AND at >= $2",
            )
            .bind(tenant)
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            let last: Option<(i64, String)> = sqlx::query_as(
                "SELECT seq, hash FROM audit_events WHERE tenant_id = $1 \
                 AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT 1",
            )
            .bind(tenant)
            .bind(keep_from)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((seq, hash)) = last else {
                continue;
            };
            let r = sqlx::query("DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2")
                .bind(tenant)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE audit_heads SET anchor_seq = $1, anchor_hash = $2 WHERE tenant_id = $3",
            )
            .bind(seq)
            .bind(&hash)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            deleted += r.rows_affected();
        }
        Ok(deleted)
    }

    async fn verify_chain(&self, tenant: TenantId) -> Result<VerifyReport> {
        // One snapshot: the head and the events agree, so concurrent appends cannot look
        // like a truncated tail.
        let mut tx = self.snapshot().await?;
        // reading a whole chain may take longer than the statement bound of requests
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await?;
        let head = sqlx::query(
            "SELECT seq, hash, anchor_seq, anchor_hash FROM audit_heads WHERE tenant_id = $1",
        )
        .bind(tenant.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("tenant"))?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        let anchor_seq: i64 = head.try_get("anchor_seq")?;
        let anchor_hash: String = head.try_get("anchor_hash")?;
        let mut verifier = ChainVerifier::new(anchor_seq, &anchor_hash);
        {
            let mut rows = sqlx::query(
                "SELECT id, seq, kind, at, subject_id, decision, body, prev_hash, hash \
                 FROM audit_events WHERE tenant_id = $1 ORDER BY seq",
            )
            .bind(tenant.0)
            .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let id: Uuid = row.try_get("id")?;
                let at: DateTime<Utc> = row.try_get("at")?;
                verifier.check(&StoredRow {
                    id: id.to_string(),
                    seq: row.try_get("seq")?,
                    kind: row.try_get("kind")?,
                    at: crate::clock::format_ts(&at),
                    subject_id: row.try_get("subject_id")?,
                    decision: row.try_get("decision")?,
                    body: row.try_get("body")?,
                    prev_hash: row.try_get("prev_hash")?,
                    hash: row.try_get("hash")?,
                });
                if verifier.failed() {
                    break;
                }
            }
        }
        tx.commit().await?;
        Ok(verifier.finish(head_seq, &head_hash))
    }
}
