//! Grants: inserts and guarded updates, the list API, bulk revoke, expiry and
//! idempotency records.

use super::*;
use crate::store::{DUE_LIVE, DUE_PENDING, LIVE, REVOCABLE};
use futures_util::TryStreamExt;

#[async_trait::async_trait]
impl GrantStore for SqliteStore {
    async fn insert_grant(
        &self,
        tenant: TenantId,
        g: &Grant,
        event: NewEvent,
        idempotency: Option<IdempotencyRecord>,
        decided_at: i64,
    ) -> Result<InsertOutcome> {
        let mut tx = self.write_tx().await?;
        if !revision_is(&mut tx, tenant, decided_at).await? {
            return Ok(InsertOutcome::Stale);
        }
        if let Some(r) = &idempotency {
            if let Some(existing) = claim_idempotency(&mut tx, tenant, r).await? {
                return Ok(InsertOutcome::Replay(existing));
            }
        }
        sqlx::query(
            "INSERT INTO grants (tenant_id, id, principal_type, principal_id, resource_type, \
             resource_id, app, scopes, status, policy_id, requested_by, granted_by, reason, \
             granted_at, expires_at, extension_count, last_used_at, revoked_at, revoked_by, \
             revoke_reason, audit_session, notices, created_at, updated_at, version, \
             last_decision, approval) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22, $23, $24, $25, $26, $27)",
        )
        .bind(tenant.to_string())
        .bind(g.id.to_string())
        .bind(&g.principal.etype)
        .bind(&g.principal.id)
        .bind(&g.resource.etype)
        .bind(&g.resource.id)
        .bind(&g.app)
        .bind(json_text(&g.scopes))
        .bind(g.status.as_str())
        .bind(g.policy_id.to_string())
        .bind(&g.requested_by)
        .bind(&g.granted_by)
        .bind(&g.reason)
        .bind(format_ts(&g.granted_at))
        .bind(format_ts(&g.expires_at))
        .bind(g.extension_count)
        .bind(g.last_used_at.as_ref().map(format_ts))
        .bind(g.revoked_at.as_ref().map(format_ts))
        .bind(&g.revoked_by)
        .bind(&g.revoke_reason)
        .bind(g.audit_session)
        .bind(json_text(&g.notices))
        .bind(format_ts(&g.created_at))
        .bind(format_ts(&g.updated_at))
        .bind(g.version)
        .bind(g.last_decision.as_ref().map(decision_text))
        .bind(g.approval.as_ref().map(approval_text))
        .execute(&mut *tx)
        .await?;
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Done)
    }

    async fn update_grant(
        &self,
        tenant: TenantId,
        g: &Grant,
        expected_version: i64,
        event: NewEvent,
        decided_at: Option<i64>,
    ) -> Result<WriteOutcome> {
        let mut tx = self.write_tx().await?;
        if let Some(revision) = decided_at {
            if !revision_is(&mut tx, tenant, revision).await? {
                return Ok(WriteOutcome::StaleRevision);
            }
        }
        if !write_grant(&mut tx, tenant, g, expected_version, None).await? {
            return Ok(WriteOutcome::VersionConflict);
        }
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(WriteOutcome::Done)
    }

    async fn get_grant(&self, tenant: TenantId, id: uuid::Uuid) -> Result<Option<Grant>> {
        sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} {GRANT_FROM} WHERE g.tenant_id = $1 AND g.id = $2"
        ))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(grant_from_row)
        .transpose()
    }

    async fn best_active_grant_on(
        &self,
        tenant: TenantId,
        principal: &EntityRef,
        resources: &[EntityRef],
        now: DateTime<Utc>,
        accept: &(dyn for<'g> Fn(&'g Grant) -> bool + Send + Sync),
    ) -> Result<Option<Grant>> {
        if resources.is_empty() {
            return Ok(None);
        }
        // The holder's index, named: without statistics (a new database, or before the
        // first `optimize`) SQLite chose `grants_by_expires_at` for `expires_at > now`,
        // which walks every unexpired grant of the tenant. Access checks fell from ~7,900 to
        // ~650 per second after 4,000 grants (benches/latency.sh).
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
            "SELECT {GRANT_COLUMNS} FROM grants g INDEXED BY grants_by_holder \
             LEFT JOIN policies p ON p.tenant_id = g.tenant_id AND p.id = g.policy_id \
             WHERE g.tenant_id = "
        ));
        q.push_bind(tenant.to_string())
            .push(" AND g.principal_type = ")
            .push_bind(principal.etype.clone())
            .push(" AND g.principal_id = ")
            .push_bind(principal.id.clone())
            .push(" AND g.status IN ('GRANTED', 'EXTENDED') AND g.expires_at > ")
            .push_bind(format_ts(&now))
            .push(" AND (");
        for (i, r) in resources.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("(g.resource_type = ")
                .push_bind(r.etype.clone())
                .push(" AND g.resource_id = ")
                .push_bind(r.id.clone())
                .push(")");
        }
        q.push(") ORDER BY g.expires_at DESC, g.id DESC");
        let mut rows = q.build().fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let g = grant_from_row(&row)?;
            if accept(&g) {
                return Ok(Some(g));
            }
        }
        Ok(None)
    }

    async fn list_grants(
        &self,
        tenant: TenantId,
        conds: &[Cond],
        sort: SortOrder,
        after: Option<&After>,
        offset: i64,
        limit: i64,
        now: DateTime<Utc>,
        known_total: Option<i64>,
    ) -> Result<(Vec<Grant>, i64)> {
        let t = tenant.to_string();
        // one read transaction: the page and the total come from the same snapshot
        let mut tx = self.pool.begin().await?;
        let total = match known_total {
            Some(n) => n,
            None => {
                let mut c = count_query("", &t, conds, &now);
                c.build().fetch_one(&mut *tx).await?.try_get("n")?
            }
        };
        let via_index = total > SORT_IN_MEMORY_UP_TO;
        let mut q = list_query("", &t, conds, sort, after, offset, limit, &now, via_index);
        let rows = q.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let grants = rows.iter().map(grant_from_row).collect::<Result<_>>()?;
        Ok((grants, total))
    }

    async fn revoke_matching(
        &self,
        tenant: TenantId,
        conds: &[Cond],
        after: Option<uuid::Uuid>,
        limit: i64,
        now: DateTime<Utc>,
        revoke: &(dyn for<'g> Fn(&'g Grant) -> (Grant, NewEvent) + Send + Sync),
    ) -> Result<(usize, Vec<uuid::Uuid>, Option<uuid::Uuid>)> {
        let t = tenant.to_string();
        let now_text = format_ts(&now);
        // find the batch as a reader: a filter no index serves scans without blocking writers
        let found = find_active(
            &self.pool,
            &t,
            conds,
            &now,
            Finding::After(after, limit),
            REVOCABLE,
        )
        .await?;
        // where the next page starts, if this one was full
        let last = found
            .last()
            .map(|g| g.id)
            .filter(|_| found.len() as i64 == limit);
        if found.is_empty() {
            return Ok((0, Vec::new(), None));
        }
        // revoke it as a writer: one short transaction of primary-key updates
        let mut tx = self.write_tx().await?;
        let mut events = Vec::with_capacity(found.len());
        let mut lost =
            revoke_found(&mut tx, tenant, &now_text, &found, revoke, &mut events).await?;
        if !lost.is_empty() {
            // Changed between the read and the lock (a racing extension, say): read those
            // again holding the write lock, where nothing can change them before the update,
            // and revoke the ones that still match. Without this second look a grant
            // extended in a tight loop could dodge every pass.
            let again =
                find_active(&mut *tx, &t, conds, &now, Finding::Ids(&lost), REVOCABLE).await?;
            lost = revoke_found(&mut tx, tenant, &now_text, &again, revoke, &mut events).await?;
        }
        let n = events.len();
        if n > 0 {
            append_in_tx(&mut tx, events).await?;
        }
        tx.commit().await?;
        Ok((n, lost, last))
    }

    async fn active_grants(
        &self,
        tenant: TenantId,
        conds: &[Cond],
        after: Option<uuid::Uuid>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>> {
        find_active(
            &self.pool,
            &tenant.to_string(),
            conds,
            &now,
            Finding::After(after, limit),
            LIVE,
        )
        .await
    }

    async fn stamp_last_used(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE grants SET last_used_at = $1 WHERE tenant_id = $2 AND id = $3 \
             AND (last_used_at IS NULL OR last_used_at < $4)",
        )
        .bind(format_ts(&now))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(format_ts(&not_before))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn expire_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        event: for<'g> fn(&'g Grant) -> NewEvent,
    ) -> Result<usize> {
        // Most sweeps find nothing: a read says so without taking the write lock (or moving
        // the decision journal every second).
        // (live grants past their expiry, pending ones past their approval deadline)
        let due: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM grants g WHERE {DUE_LIVE} AND g.expires_at <= $1) \
             OR EXISTS (SELECT 1 FROM grants g WHERE {DUE_PENDING} AND g.expires_at <= $1)"
        ))
        .bind(format_ts(&now))
        .fetch_one(&self.pool)
        .await?;
        if !due {
            return Ok(0);
        }
        let mut tx = self.write_tx().await?;
        let mut rows = Vec::new();
        for due in [DUE_LIVE, DUE_PENDING] {
            rows.extend(
                sqlx::query(&format!(
                    "SELECT g.tenant_id AS tenant, {GRANT_COLUMNS} {GRANT_FROM} \
                     WHERE {due} AND g.expires_at <= $1 ORDER BY g.expires_at LIMIT $2"
                ))
                .bind(format_ts(&now))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?,
            );
        }
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let tenant: String = row.try_get("tenant")?;
            let tenant: TenantId = tenant.parse().map_err(|_| corrupt("grants.tenant_id"))?;
            let mut g = grant_from_row(row)?;
            let expected = g.version;
            g.status = crate::domain::grant::effective_status(g.status, g.expires_at, now);
            g.version += 1;
            g.updated_at = now;
            sqlx::query(
                "UPDATE grants SET status = $6, version = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND id = $4 AND version = $5",
            )
            .bind(g.version)
            .bind(format_ts(&now))
            .bind(tenant.to_string())
            .bind(g.id.to_string())
            .bind(expected)
            .bind(g.status.as_str())
            .execute(&mut *tx)
            .await?;
            events.push((tenant, event(&g)));
        }
        let n = events.len();
        append_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn get_idempotency(
        &self,
        key_id: KeyId,
        idem_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>> {
        let mut conn = self.pool.acquire().await?;
        Ok(read_idempotency(&mut conn, key_id, idem_key)
            .await?
            .filter(|r| r.created_at > since))
    }

    async fn put_idempotency(
        &self,
        tenant: TenantId,
        record: &IdempotencyRecord,
        event: NewEvent,
    ) -> Result<InsertOutcome> {
        let mut tx = self.write_tx().await?;
        if let Some(existing) = claim_idempotency(&mut tx, tenant, record).await? {
            // dropped: rolled back, nothing written
            return Ok(InsertOutcome::Replay(existing));
        }
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Done)
    }
}

/// Cuts every active grant `p` governs to `granted_at + p.max_duration_seconds` (see
/// `grant::cut_to_policy_max`), in the caller's transaction; returns their events.
pub(super) async fn cut_grants_to_policy_max(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    p: &Policy,
    actor: &crate::domain::audit::Actor,
    now: DateTime<Utc>,
) -> Result<Vec<(TenantId, NewEvent)>> {
    // The index on (tenant, policy, status) finds the policy's grants; the day arithmetic
    // (a second of slack for its rounding) leaves only those near or past the cap, which
    // the exact rule then decides.
    let rows = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS} {GRANT_FROM} WHERE g.tenant_id = $1 AND g.policy_id = $2 \
         AND g.status IN ('GRANTED', 'EXTENDED') AND g.expires_at > $3 \
         AND (julianday(g.expires_at) - julianday(g.granted_at)) * 86400.0 > $4"
    ))
    .bind(tenant.to_string())
    .bind(p.id.to_string())
    .bind(format_ts(&now))
    .bind(p.max_duration_seconds as f64 - 1.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut events = Vec::new();
    for row in &rows {
        let g = grant_from_row(row)?;
        let Some((next, event)) =
            crate::domain::grant::cut_to_policy_max(&g, p.max_duration_seconds, actor, now)
        else {
            continue;
        };
        sqlx::query(
            "UPDATE grants SET expires_at = $1, updated_at = $2, version = $3 \
             WHERE tenant_id = $4 AND id = $5 AND version = $6",
        )
        .bind(format_ts(&next.expires_at))
        .bind(format_ts(&next.updated_at))
        .bind(next.version)
        .bind(tenant.to_string())
        .bind(g.id.to_string())
        .bind(g.version)
        .execute(&mut *conn)
        .await?;
        events.push((tenant, event));
    }
    Ok(events)
}

pub(super) const GRANT_COLUMNS: &str = "g.id, g.principal_type, g.principal_id, g.resource_type, g.resource_id, \
    g.app, g.scopes, g.status, g.policy_id, p.key AS policy_key, g.requested_by, g.granted_by, \
    g.reason, g.granted_at, g.expires_at, g.extension_count, g.last_used_at, g.revoked_at, \
    g.revoked_by, g.revoke_reason, g.audit_session, g.notices, g.created_at, g.updated_at, g.version, \
    g.review_required, g.last_decision, g.approval";

pub(super) const GRANT_FROM: &str =
    "FROM grants g LEFT JOIN policies p ON p.tenant_id = g.tenant_id AND p.id = g.policy_id";

pub(super) fn json_list(row: &SqliteRow, col: &str) -> Result<Vec<String>> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|_| corrupt(col))
}

/// Up to this many matching grants, a list page is read through the filters' index and
/// sorted in memory; beyond, the sort order's index is walked (matches are then common
/// enough to fill a page quickly). The count that `total` needs anyway tells which.
pub(super) const SORT_IN_MEMORY_UP_TO: i64 = 20_000;

/// The page query of `list_grants` (`prefix` is `""`, or `"EXPLAIN QUERY PLAN "`).
#[allow(clippy::too_many_arguments)]
pub(super) fn list_query<'a>(
    prefix: &str,
    tenant: &str,
    conds: &[Cond],
    sort: SortOrder,
    after: Option<&After>,
    offset: i64,
    limit: i64,
    now: &DateTime<Utc>,
    via_index: bool,
) -> sqlx::QueryBuilder<'a, sqlx::Sqlite> {
    // The page's ids are chosen by a query that reads only ids, sort keys and filter
    // columns (so a covering index serves it and an in-memory sort holds two short values
    // per grant); only the chosen grants are then read whole.
    let mut q = sqlx::QueryBuilder::new(format!(
        "{prefix}SELECT {GRANT_COLUMNS} {GRANT_FROM} WHERE g.tenant_id = "
    ));
    q.push_bind(tenant.to_string());
    q.push(" AND g.id IN (SELECT g.id FROM grants g");
    grant_sql::push_where(&mut q, tenant, conds, now);
    if let Some(a) = after {
        grant_sql::push_after(&mut q, sort, &a.sort_value, &a.id);
    }
    grant_sql::push_order(&mut q, sort, via_index);
    q.push(" LIMIT ").push_bind(limit);
    q.push(" OFFSET ").push_bind(offset);
    q.push(")");
    grant_sql::push_order(&mut q, sort, true);
    q
}

/// The `total` query of `list_grants`. Without conditions it is the tenant's grant count,
/// which triggers keep (migration 0009), instead of a count over the tenant's index.
pub(super) fn count_query<'a>(
    prefix: &str,
    tenant: &str,
    conds: &[Cond],
    now: &DateTime<Utc>,
) -> sqlx::QueryBuilder<'a, sqlx::Sqlite> {
    if conds.is_empty() {
        let mut q = sqlx::QueryBuilder::new(format!(
            "{prefix}SELECT COALESCE((SELECT n FROM grant_counts WHERE tenant_id = "
        ));
        q.push_bind(tenant.to_string()).push("), 0) AS n");
        return q;
    }
    if let Some(plan) = day_count_plan(conds, *now) {
        return day_count_query(prefix, tenant, conds, now, &plan);
    }
    let mut q = sqlx::QueryBuilder::new(format!("{prefix}SELECT COUNT(*) AS n FROM grants g"));
    grant_sql::push_where(&mut q, tenant, conds, now);
    q
}

/// `total` as the per-day counts of the whole days (migration 0010) plus a count of the
/// grants on the exact days, with every filter, through the column's own index (see
/// `domain::grant_count`).
pub(super) fn day_count_query<'a>(
    prefix: &str,
    tenant: &str,
    conds: &[Cond],
    now: &DateTime<Utc>,
    plan: &DayCountPlan,
) -> sqlx::QueryBuilder<'a, sqlx::Sqlite> {
    let col = grant_sql::time_col(plan.col);
    let (name, index) = match plan.col {
        TimeCol::ExpiresAt => ("expires_at", "grants_by_expires_at"),
        TimeCol::LastUsedAt => ("last_used_at", "grants_by_last_used"),
        TimeCol::GrantedAt => ("granted_at", "grants_by_granted_at"),
        other => unreachable!("no per-day counts of {other:?}"),
    };
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let mut q = sqlx::QueryBuilder::new(format!(
        "{prefix}SELECT (SELECT COALESCE(SUM(n), 0) FROM grant_day_counts WHERE tenant_id = "
    ));
    q.push_bind(tenant.to_string())
        .push(" AND col = ")
        .push_bind(name);
    if let Some(a) = plan.after {
        q.push(" AND day > ").push_bind(day(a));
    }
    if let Some(b) = plan.before {
        q.push(" AND day < ").push_bind(day(b));
    }
    if !plan.exact.is_empty() {
        q.push(" AND day NOT IN (");
        let mut sep = q.separated(", ");
        for d in &plan.exact {
            sep.push_bind(day(*d));
        }
        q.push(")");
    }
    q.push(" AND (0");
    for (status, days) in &plan.statuses {
        q.push(" OR (status = ").push_bind(*status);
        match days {
            Days::All => {}
            Days::BeforeToday => {
                q.push(" AND day < ").push_bind(day(plan.today));
            }
            Days::AfterToday => {
                q.push(" AND day > ").push_bind(day(plan.today));
            }
        }
        q.push(")");
    }
    q.push("))");
    for d in &plan.exact {
        // every stored timestamp of day D sorts between "D" and "DU" ('T' < 'U')
        q.push(" + (SELECT COUNT(*) FROM grants g INDEXED BY ")
            .push(index);
        grant_sql::push_where(&mut q, tenant, conds, now);
        q.push(" AND ")
            .push(col)
            .push(" >= ")
            .push_bind(day(*d))
            .push(" AND ")
            .push(col)
            .push(" < ")
            .push_bind(format!("{}U", day(*d)))
            .push(")");
    }
    q.push(" AS n");
    q
}

impl SqliteStore {
    /// The query plans SQLite picks for a list call's page and `total` (benchmarks and
    /// performance work; not part of the API).
    #[doc(hidden)]
    pub async fn explain_list(
        &self,
        tenant: TenantId,
        conds: &[Cond],
        sort: SortOrder,
        after: Option<&After>,
        now: DateTime<Utc>,
        via_index: bool,
    ) -> Result<Vec<String>> {
        let t = tenant.to_string();
        let mut out = Vec::new();
        for mut q in [
            list_query(
                "EXPLAIN QUERY PLAN ",
                &t,
                conds,
                sort,
                after,
                0,
                26,
                &now,
                via_index,
            ),
            count_query("EXPLAIN QUERY PLAN ", &t, conds, &now),
        ] {
            for row in q.build().fetch_all(&self.pool).await? {
                out.push(row.try_get::<String, _>("detail")?);
            }
            out.push("--".into());
        }
        Ok(out)
    }
}

pub(crate) fn grant_from_row(row: &SqliteRow) -> Result<Grant> {
    let id: String = row.try_get("id")?;
    let policy: String = row.try_get("policy_id")?;
    let status: String = row.try_get("status")?;
    Ok(Grant {
        id: id.parse().map_err(|_| corrupt("grants.id"))?,
        principal: EntityRef {
            etype: row.try_get("principal_type")?,
            id: row.try_get("principal_id")?,
        },
        resource: EntityRef {
            etype: row.try_get("resource_type")?,
            id: row.try_get("resource_id")?,
        },
        app: row.try_get("app")?,
        scopes: json_list(row, "scopes")?,
        status: GrantStatus::parse(&status).ok_or_else(|| corrupt("grants.status"))?,
        grant_type: String::new(),
        policy_id: policy.parse().map_err(|_| corrupt("grants.policy_id"))?,
        policy_key: row.try_get("policy_key")?,
        requested_by: row.try_get("requested_by")?,
        granted_by: row.try_get("granted_by")?,
        reason: row.try_get("reason")?,
        granted_at: ts_col(row, "granted_at")?,
        expires_at: ts_col(row, "expires_at")?,
        extension_count: row.try_get("extension_count")?,
        last_used_at: opt_ts_col(row, "last_used_at")?,
        revoked_at: opt_ts_col(row, "revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
        revoke_reason: row.try_get("revoke_reason")?,
        audit_session: row.try_get("audit_session")?,
        notices: json_list(row, "notices")?,
        created_at: ts_col(row, "created_at")?,
        updated_at: ts_col(row, "updated_at")?,
        version: row.try_get("version")?,
        review_required: row.try_get::<bool, _>("review_required")?,
        last_decision: row
            .try_get::<Option<String>, _>("last_decision")?
            .map(|t| serde_json::from_str(&t).map_err(|_| corrupt("grants.last_decision")))
            .transpose()?,
        approval: row
            .try_get::<Option<String>, _>("approval")?
            .map(|t| serde_json::from_str(&t).map_err(|_| corrupt("grants.approval")))
            .transpose()?,
    }
    .typed())
}

pub(super) fn idempotency_from_row(row: &SqliteRow) -> Result<IdempotencyRecord> {
    let key: String = row.try_get("key_id")?;
    let status: i64 = row.try_get("status")?;
    Ok(IdempotencyRecord {
        key_id: key.parse().map_err(|_| corrupt("idempotency.key_id"))?,
        idem_key: row.try_get("idem_key")?,
        body_hash: row.try_get("body_hash")?,
        status: u16::try_from(status).map_err(|_| corrupt("idempotency.status"))?,
        response: row.try_get("response")?,
        created_at: ts_col(row, "created_at")?,
    })
}

pub(super) async fn read_idempotency(
    conn: &mut SqliteConnection,
    key_id: KeyId,
    idem_key: &str,
) -> Result<Option<IdempotencyRecord>> {
    sqlx::query("SELECT * FROM idempotency WHERE key_id = $1 AND idem_key = $2")
        .bind(key_id.to_string())
        .bind(idem_key)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(idempotency_from_row)
        .transpose()
}

/// Inserts an idempotency record, or returns the one that is already there (a record older
/// than 24 hours is replaced: the key may be used again).
pub(super) async fn claim_idempotency(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    r: &IdempotencyRecord,
) -> Result<Option<IdempotencyRecord>> {
    if let Some(existing) = read_idempotency(conn, r.key_id, &r.idem_key).await? {
        if existing.stands_at(r.created_at) {
            return Ok(Some(existing));
        }
        sqlx::query("DELETE FROM idempotency WHERE key_id = $1 AND idem_key = $2")
            .bind(r.key_id.to_string())
            .bind(&r.idem_key)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(
        "INSERT INTO idempotency (key_id, idem_key, tenant_id, body_hash, status, response, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r.key_id.to_string())
    .bind(&r.idem_key)
    .bind(tenant.to_string())
    .bind(&r.body_hash)
    .bind(i64::from(r.status))
    .bind(&r.response)
    .bind(format_ts(&r.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(None)
}

pub(super) fn json_text(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

fn decision_text(d: &crate::domain::grant::LastDecision) -> String {
    serde_json::to_string(d).expect("a decision serializes")
}

fn approval_text(a: &crate::domain::grant::ApprovalState) -> String {
    serde_json::to_string(a).expect("an approval serializes")
}

/// Which active matching grants [`find_active`] reads.
enum Finding<'a> {
    /// Up to this many, in id order, after this id.
    After(Option<uuid::Uuid>, i64),
    /// Those of these ids.
    Ids(&'a [uuid::Uuid]),
}

/// The tenant's grants that are active at `now` and match every condition.
async fn find_active<'e, E>(
    conn: E,
    t: &str,
    conds: &[Cond],
    now: &DateTime<Utc>,
    which: Finding<'_>,
    statuses: &str,
) -> Result<Vec<Grant>>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let mut q =
        sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!("SELECT {GRANT_COLUMNS} {GRANT_FROM}"));
    grant_sql::push_where(&mut q, t, conds, now);
    q.push(format!(" AND g.status IN {statuses} AND g.expires_at > "))
        .push_bind(format_ts(now));
    match which {
        Finding::After(after, limit) => {
            if let Some(a) = after {
                q.push(" AND g.id > ").push_bind(a.to_string());
            }
            q.push(" ORDER BY g.id LIMIT ").push_bind(limit);
        }
        Finding::Ids(ids) => {
            q.push(" AND g.id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(id.to_string());
            }
            q.push(")");
        }
    }
    q.build()
        .fetch_all(conn)
        .await?
        .iter()
        .map(grant_from_row)
        .collect()
}

/// Revokes each of `found` that is still the version found and active, pushing its event;
/// returns the ids of those that changed.
async fn revoke_found(
    tx: &mut WriteTx,
    tenant: TenantId,
    now_text: &str,
    found: &[Grant],
    revoke: &(dyn for<'g> Fn(&'g Grant) -> (Grant, NewEvent) + Send + Sync),
    events: &mut Vec<(TenantId, NewEvent)>,
) -> Result<Vec<uuid::Uuid>> {
    let t = tenant.to_string();
    let mut lost = Vec::new();
    for g in found {
        let (next, event) = revoke(g);
        let r = sqlx::query(&format!(
            "UPDATE grants SET status = $1, revoked_at = $2, revoked_by = $3, \
             revoke_reason = $4, updated_at = $5, version = $6 \
             WHERE tenant_id = $7 AND id = $8 AND version = $9 \
             AND status IN {REVOCABLE} AND expires_at > $10"
        ))
        .bind(next.status.as_str())
        .bind(next.revoked_at.as_ref().map(format_ts))
        .bind(&next.revoked_by)
        .bind(&next.revoke_reason)
        .bind(format_ts(&next.updated_at))
        .bind(next.version)
        .bind(&t)
        .bind(g.id.to_string())
        .bind(g.version)
        .bind(now_text)
        .execute(&mut **tx)
        .await?;
        if r.rows_affected() == 1 {
            events.push((tenant, event));
        } else {
            lost.push(g.id);
        }
    }
    Ok(lost)
}

/// Writes `g` over the tenant's grant of its id if that is still at `expected_version`
/// (and, with `active_at`, still active at that time); whether it did.
pub(super) async fn write_grant(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    g: &Grant,
    expected_version: i64,
    active_at: Option<DateTime<Utc>>,
) -> Result<bool> {
    let now = active_at;
    let r = sqlx::query(
        "UPDATE grants SET resource_type = $1, resource_id = $2, app = $3, scopes = $4, \
         status = $5, policy_id = $6, granted_by = $7, granted_at = $8, expires_at = $9, \
         extension_count = $10, revoked_at = $11, revoked_by = $12, revoke_reason = $13, \
         audit_session = $14, notices = $15, updated_at = $16, version = $17, \
         last_decision = $21, review_required = $22, approval = $24 \
         WHERE tenant_id = $18 AND id = $19 \
         AND version = $20 AND ($23 IS NULL OR (status IN ('GRANTED', 'EXTENDED') \
         AND expires_at > $23))",
    )
    .bind(&g.resource.etype)
    .bind(&g.resource.id)
    .bind(&g.app)
    .bind(json_text(&g.scopes))
    .bind(g.status.as_str())
    .bind(g.policy_id.to_string())
    .bind(&g.granted_by)
    .bind(format_ts(&g.granted_at))
    .bind(format_ts(&g.expires_at))
    .bind(g.extension_count)
    .bind(g.revoked_at.as_ref().map(format_ts))
    .bind(&g.revoked_by)
    .bind(&g.revoke_reason)
    .bind(g.audit_session)
    .bind(json_text(&g.notices))
    .bind(format_ts(&g.updated_at))
    .bind(g.version)
    .bind(tenant.to_string())
    .bind(g.id.to_string())
    .bind(expected_version)
    .bind(g.last_decision.as_ref().map(decision_text))
    .bind(g.review_required)
    .bind(now.map(|t| format_ts(&t)))
    .bind(g.approval.as_ref().map(approval_text))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
