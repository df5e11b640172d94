//! The audit log: appends (group commits of decision events go through the decision
//! journal, see `journal` and `appender`), reads, retention and verification.

use super::*;

#[async_trait::async_trait]
impl AuditStore for SqliteStore {
    fn start_decision_writer(
        &self,
        this: DynStore,
        capacity: usize,
        max_batch: usize,
    ) -> (crate::audit::AuditWriter, tokio::task::JoinHandle<()>) {
        match self.appender.clone() {
            Some(a) => crate::audit::AuditWriter::spawn_thread(a, capacity, max_batch),
            None => crate::audit::AuditWriter::spawn_task(this, capacity, max_batch),
        }
    }

    async fn append_events(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>> {
        if let Some(appender) = self.appender.clone() {
            return tokio::task::spawn_blocking(move || {
                let stored = appender.append_stored(events);
                crate::audit::BlockingAppend::after_batch(&*appender);
                stored
            })
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!("audit append task failed: {e}")))?;
        }
        let mut tx = self.write_tx().await?;
        let out = append_in_tx(&mut tx, events).await?;
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
        self.flush_journal().await?;
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT body, prev_hash, hash FROM audit_events WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string());
        if let Some(k) = &filter.kind {
            q.push(" AND kind = ").push_bind(k.clone());
        }
        // `at` never decreases along `seq` (for chains whose events all come from after
        // migration 0006), so a time bound is also a seq bound: the first event at or after
        // it. The seq bound lets the scan run in seq order from there.
        let ordered: bool = if filter.since.is_some() || filter.until.is_some() {
            let from: i64 =
                sqlx::query("SELECT ordered_from FROM audit_heads WHERE tenant_id = $1")
                    .bind(tenant.to_string())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("ordered_from"))
                    .transpose()?
                    .unwrap_or(0);
            from <= 1
        } else {
            false
        };
        // The seq of the tenant's first event at or after `t`.
        let first_at_or_after = |q: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>,
                                 t: &DateTime<Utc>| {
            q.push("(SELECT seq FROM audit_events WHERE tenant_id = ")
                .push_bind(tenant.to_string())
                .push(" AND at >= ")
                .push_bind(format_ts(t))
                .push(" ORDER BY at, seq LIMIT 1)");
        };
        if let Some(t) = &filter.since {
            q.push(" AND at >= ").push_bind(format_ts(t));
            if ordered {
                q.push(" AND seq >= ");
                first_at_or_after(&mut q, t);
            }
        }
        if let Some(t) = &filter.until {
            q.push(" AND at < ").push_bind(format_ts(t));
            if ordered {
                q.push(" AND seq < COALESCE(");
                first_at_or_after(&mut q, t);
                q.push(", 9223372036854775807)");
            }
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
        self.flush_journal().await?;
        // Newest first along the primary key: decisions are most of a busy tenant's events,
        // so the walk stops after about `limit` rows; the seq bound (the first event in the
        // window, `at` being non-decreasing along `seq`) ends it at the window's start.
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT seq, CASE WHEN length(body) <= $5 THEN body END AS body \
             FROM audit_events WHERE tenant_id = $1 \
             AND +kind IN ('authorize', 'grant.request', 'grant.extend') \
             AND decision IS NOT NULL AND +at >= $2 \
             AND seq >= COALESCE((SELECT seq FROM audit_events WHERE tenant_id = $1 \
                 AND at >= $2 ORDER BY at, seq LIMIT 1), 9223372036854775807) \
             AND seq < $4 ORDER BY seq DESC LIMIT $3",
        )
        .bind(tenant.to_string())
        .bind(format_ts(&since))
        .bind(limit)
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(max_len)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64> {
        // Events committed to the inbox before this call are pruned like any other.
        self.flush_journal().await?;
        let tenants = sqlx::query("SELECT tenant_id FROM audit_heads")
            .fetch_all(&self.pool)
            .await?;
        let cutoff = format_ts(&before);
        let mut deleted = 0;
        for t in tenants {
            let tenant: String = t.try_get("tenant_id")?;
            let mut tx = self.write_tx().await?;
            // The anchor moves only over a gap-free prefix: everything up to the first event
            // that is still within the retention period.
            let keep_from: Option<i64> = sqlx::query(
                "SELECT MIN(seq) AS s FROM audit_events WHERE tenant_id = $1 AND at >= $2",
            )
            .bind(&tenant)
            .bind(&cutoff)
            .fetch_one(&mut *tx)
            .await?
            .try_get("s")?;
            let last = sqlx::query(
                "SELECT seq, hash FROM audit_events WHERE tenant_id = $1 AND ($2 IS NULL OR seq < $2) \
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(&tenant)
            .bind(keep_from)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(last) = last else {
                continue;
            };
            let (seq, hash): (i64, String) = (last.try_get("seq")?, last.try_get("hash")?);
            let r = sqlx::query("DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2")
                .bind(&tenant)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE audit_heads SET anchor_seq = $1, anchor_hash = $2, \
                 ordered_from = CASE WHEN ordered_from <= $1 + 1 THEN 0 ELSE ordered_from END \
                 WHERE tenant_id = $3",
            )
            .bind(seq)
            .bind(&hash)
            .bind(&tenant)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            deleted += r.rows_affected();
        }
        Ok(deleted)
    }

    async fn verify_chain(&self, tenant: TenantId) -> Result<VerifyReport> {
        self.flush_journal().await?;
        // One read transaction: the head and the events come from the same snapshot, so
        // concurrent appends cannot look like a truncated tail.
        let mut tx = self.pool.begin().await?;
        let t = tenant.to_string();
        let head = sqlx::query(
            "SELECT seq, hash, anchor_seq, anchor_hash FROM audit_heads WHERE tenant_id = $1",
        )
        .bind(&t)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("tenant"))?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        let anchor_seq: i64 = head.try_get("anchor_seq")?;
        let anchor_hash: String = head.try_get("anchor_hash")?;
        let mut verifier = ChainVerifier::new(anchor_seq, &anchor_hash);
        {
            // Both tables, in the head's snapshot: a move between them is one transaction,
            // so each event is in exactly one of them.
            let mut rows = sqlx::query(CHAIN_ROWS).bind(&t).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                verifier.check(&StoredRow {
                    id: row.try_get("id")?,
                    seq: row.try_get("seq")?,
                    kind: row.try_get("kind")?,
                    at: row.try_get("at")?,
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
