//! Grants: inserts and guarded updates, the list API, bulk revoke, expiry and
//! idempotency records. Every write holds its tenant's chain head (see `write_tx`), so
//! the revision checks, version guards and idempotency claims of one tenant's writes see
//! each other's commits.

use super::*;
use crate::domain::grant_count::{day_count_plan, DayCountPlan, Days};
use crate::domain::grant_query::{After, Cond, SortOrder, TimeCol, TimeTest};
use crate::store::{DUE_LIVE, DUE_PENDING, LIVE, REVOCABLE};
use chrono::NaiveDate;
use sqlx::types::Json;

#[async_trait::async_trait]
impl GrantStore for PgStore {
    async fn insert_grant(
        &self,
        tenant: TenantId,
        g: &Grant,
        event: NewEvent,
        idempotency: Option<IdempotencyRecord>,
        decided_at: i64,
    ) -> Result<InsertOutcome> {
        self.grants
            .insert(tenant, g.clone(), event, idempotency, decided_at)
            .await
    }

    async fn update_grant(
        &self,
        tenant: TenantId,
        g: &Grant,
        expected_version: i64,
        event: NewEvent,
        decided_at: Option<i64>,
    ) -> Result<WriteOutcome> {
        let mut tx = self.write_tx(&[tenant]).await?;
        if let Some(revision) = decided_at {
            if !tx.revision_is(tenant, revision) {
                return Ok(WriteOutcome::StaleRevision);
            }
        }
        if !write_grant(&mut tx, tenant, g, expected_version, None).await? {
            return Ok(WriteOutcome::VersionConflict);
        }
        tx.append(vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(WriteOutcome::Done)
    }

    async fn get_grant(&self, tenant: TenantId, id: Uuid) -> Result<Option<Grant>> {
        sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} {GRANT_FROM} WHERE g.tenant_id = $1 AND g.id = $2"
        ))
        .bind(tenant.0)
        .bind(id)
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
        let types: Vec<&str> = resources.iter().map(|r| r.etype.as_str()).collect();
        let ids: Vec<&str> = resources.iter().map(|r| r.id.as_str()).collect();
        // Pages of rows in the holder index's order (latest expiry first): the first page
        // is small, as the first live grant of a pair nearly always covers; when it was
        // full and none covered, every row is read (again from the first: grants written
        // in between move the order). One resource (no policy covers descendants):
        // equalities, so the index is walked in order and the walk stops at the limit;
        // several: a lookup per resource, then a sort of what they found.
        let pairs = if resources.len() == 1 {
            "g.resource_type = $5[1] AND g.resource_id = $6[1]"
        } else {
            "(g.resource_type, g.resource_id) IN (SELECT * FROM unnest($5::text[], $6::text[]))"
        };
        let sql = format!(
            "SELECT {GRANT_COLUMNS} {GRANT_FROM} WHERE g.tenant_id = $1 \
             AND g.principal_type = $2 AND g.principal_id = $3 \
             AND g.status IN ('GRANTED', 'EXTENDED') AND g.expires_at > $4 AND {pairs} \
             ORDER BY g.expires_at DESC, g.id DESC LIMIT $7"
        );
        const FIRST_PAGE: i64 = 8;
        for limit in [FIRST_PAGE, i64::MAX] {
            let rows = sqlx::query(&sql)
                .bind(tenant.0)
                .bind(&principal.etype)
                .bind(&principal.id)
                .bind(now)
                .bind(&types)
                .bind(&ids)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
            let full = rows.len() as i64 == limit;
            for row in &rows {
                let g = grant_from_row(row)?;
                if accept(&g) {
                    return Ok(Some(g));
                }
            }
            if !full {
                break;
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
        // one snapshot: the page and the total agree
        let mut tx = self.snapshot().await?;
        let total = match known_total {
            Some(n) => n,
            None => {
                count_query(tenant.0, conds, now)
                    .build_query_scalar::<i64>()
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        let via_index = total > SORT_IN_MEMORY_UP_TO;
        let rows = list_query(tenant.0, conds, sort, after, offset, limit, now, via_index)
            .build()
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let grants = rows.iter().map(grant_from_row).collect::<Result<_>>()?;
        Ok((grants, total))
    }

    async fn revoke_matching(
        &self,
        tenant: TenantId,
        conds: &[Cond],
        after: Option<Uuid>,
        limit: i64,
        now: DateTime<Utc>,
        revoke: &(dyn for<'g> Fn(&'g Grant) -> (Grant, NewEvent) + Send + Sync),
    ) -> Result<(usize, Vec<Uuid>, Option<Uuid>)> {
        // find the batch without holding the tenant's head, then revoke it holding it
        let found = find_active(
            &self.pool,
            tenant,
            conds,
            now,
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
        let mut tx = self.write_tx(&[tenant]).await?;
        let mut events = Vec::with_capacity(found.len());
        let mut lost = revoke_found(&mut tx, tenant, now, &found, revoke, &mut events).await?;
        if !lost.is_empty() {
            // Changed between the read and the lock (a racing extension, say): read those
            // again holding the tenant's head, which every write of its grants takes, so
            // nothing changes them before the update, and revoke the ones that still
            // match. Without this second look a grant extended in a tight loop could
            // dodge every pass.
            let again =
                find_active(&mut *tx, tenant, conds, now, Finding::Ids(&lost), REVOCABLE).await?;
            lost = revoke_found(&mut tx, tenant, now, &again, revoke, &mut events).await?;
        }
        let n = events.len();
        tx.append(events).await?;
        tx.commit().await?;
        Ok((n, lost, last))
    }

    async fn active_grants(
        &self,
        tenant: TenantId,
        conds: &[Cond],
        after: Option<Uuid>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>> {
        find_active(
            &self.pool,
            tenant,
            conds,
            now,
            Finding::After(after, limit),
            LIVE,
        )
        .await
    }

    async fn stamp_last_used(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<()> {
        // The stamp moves the grant between per-day count rows (the trigger), which writes
        // of the tenant also move while holding its chain head: a share lock on the head
        // first orders a stamp after them (stamps do not wait for each other), so a bulk
        // revoke and a stamp can never each hold a row the other waits for. A head held by
        // a write now skips the stamp instead of waiting (and holding a pooled connection
        // meanwhile): the next access check of the grant stamps it.
        let mut tx = self.pool.begin().await?;
        match sqlx::query("SELECT 1 FROM audit_heads WHERE tenant_id = $1 FOR SHARE NOWAIT")
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {}
            Err(e) if errors::is_lock_not_available(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        sqlx::query(
            "UPDATE grants SET last_used_at = $1 WHERE tenant_id = $2 AND id = $3 \
             AND (last_used_at IS NULL OR last_used_at < $4)",
        )
        .bind(now)
        .bind(tenant.0)
        .bind(id)
        .bind(not_before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn expire_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        event: for<'g> fn(&'g Grant) -> NewEvent,
    ) -> Result<usize> {
        let mut tx = self.write_tx(&[]).await?;
        // Another process sweeping now does this work; its events must be the only ones.
        if !take_job(&mut tx, Job::Sweep).await? {
            return Ok(0);
        }
        // live grants past their expiry, then pending ones past their approval deadline
        let mut rows = Vec::new();
        for due in [DUE_LIVE, DUE_PENDING] {
            rows.extend(
                sqlx::query(&format!(
                    "SELECT g.tenant_id AS tenant, {GRANT_COLUMNS} {GRANT_FROM} \
                     WHERE {due} AND g.expires_at <= $1 ORDER BY g.expires_at LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?,
            );
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            due.push((TenantId(row.try_get("tenant")?), grant_from_row(row)?));
        }
        let tenants: Vec<TenantId> = due.iter().map(|(t, _)| *t).collect();
        tx.lock(&tenants).await?;
        let mut events = Vec::with_capacity(due.len());
        for (tenant, mut g) in due {
            let (expected, was) = (g.version, g.status);
            g.status = crate::domain::grant::effective_status(g.status, g.expires_at, now);
            g.version += 1;
            g.updated_at = now;
            // another process (or a revoke) may have changed it since it was found
            let r = sqlx::query(
                "UPDATE grants SET status = $6, version = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND id = $4 AND version = $5 AND status = $7",
            )
            .bind(g.version)
            .bind(now)
            .bind(tenant.0)
            .bind(g.id)
            .bind(expected)
            .bind(g.status.as_str())
            .bind(was.as_str())
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 1 {
                events.push((tenant, event(&g)));
            }
        }
        let n = events.len();
        tx.append(events).await?;
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
        let mut tx = self.write_tx(&[tenant]).await?;
        if let Some(existing) = claim_idempotency(&mut tx, tenant, record).await? {
            // dropped: rolled back, nothing written
            return Ok(InsertOutcome::Replay(existing));
        }
        tx.append(vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Done)
    }
}

/// Cuts every active grant `p` governs to `granted_at + p.max_duration_seconds` (see
/// `grant::cut_to_policy_max`), in the caller's transaction; returns their events.
pub(super) async fn cut_grants_to_policy_max(
    conn: &mut PgConnection,
    tenant: TenantId,
    p: &Policy,
    actor: &crate::domain::audit::Actor,
    now: DateTime<Utc>,
) -> Result<Vec<(TenantId, NewEvent)>> {
    // a second of slack for the rounding of the seconds arithmetic; the exact rule decides
    let rows = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS} {GRANT_FROM} WHERE g.tenant_id = $1 AND g.policy_id = $2 \
         AND g.status IN ('GRANTED', 'EXTENDED') AND g.expires_at > $3 \
         AND EXTRACT(EPOCH FROM (g.expires_at - g.granted_at)) > $4"
    ))
    .bind(tenant.0)
    .bind(p.id)
    .bind(now)
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
        .bind(next.expires_at)
        .bind(next.updated_at)
        .bind(next.version)
        .bind(tenant.0)
        .bind(g.id)
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

/// Up to this many matching grants, a list page is read through the filters' index and
/// sorted in memory; beyond, the sort order's index is walked (matches are then common
/// enough to fill a page quickly). The count that `total` needs anyway tells which.
const SORT_IN_MEMORY_UP_TO: i64 = 20_000;

/// The page query of `list_grants`: the page's ids are chosen reading only ids, sort keys
/// and filter columns; only the chosen grants are then read whole.
#[allow(clippy::too_many_arguments)]
fn list_query<'a>(
    tenant: Uuid,
    conds: &[Cond],
    sort: SortOrder,
    after: Option<&After>,
    offset: i64,
    limit: i64,
    now: DateTime<Utc>,
    via_index: bool,
) -> sqlx::QueryBuilder<'a, sqlx::Postgres> {
    let mut q = sqlx::QueryBuilder::new(format!(
        "SELECT {GRANT_COLUMNS} {GRANT_FROM} WHERE g.tenant_id = "
    ));
    q.push_bind(tenant);
    q.push(" AND g.id IN (SELECT g.id FROM ");
    match last_used_by(conds, sort).filter(|_| via_index) {
        None => {
            q.push("grants g");
            grant_sql::push_where(&mut q, tenant, conds, now);
            if let Some(a) = after {
                grant_sql::push_after(&mut q, sort, &a.sort_value, &a.id);
            }
        }
        Some(used_by) => {
            // Newest grants first, of those last used at or before `used_by`: a grant is
            // used after it is granted, so the matches are grants granted by `used_by`
            // (the walk starts there instead of passing every grant of the recent days),
            // plus those whose `granted_at` was later moved past their last use, read
            // through `grants_used_before_granted` (every grant last used before its
            // `granted_at`: normally only those an update moved). The two are disjoint;
            // each gives its first `offset + limit`, and the page is cut from both.
            let enough = offset.saturating_add(limit);
            for (i, part) in [
                " AND g.granted_at <= ",
                " AND g.last_used_at < g.granted_at AND g.granted_at > ",
            ]
            .into_iter()
            .enumerate()
            {
                q.push(if i == 0 { "((" } else { " UNION ALL (" });
                q.push("SELECT g.id, g.granted_at FROM grants g");
                grant_sql::push_where(&mut q, tenant, conds, now);
                q.push(part).push_bind(used_by);
                if let Some(a) = after {
                    grant_sql::push_after(&mut q, sort, &a.sort_value, &a.id);
                }
                grant_sql::push_order(&mut q, sort, via_index);
                q.push(" LIMIT ").push_bind(enough).push(")");
            }
            q.push(") g");
        }
    }
    grant_sql::push_order(&mut q, sort, via_index);
    q.push(" LIMIT ").push_bind(limit);
    q.push(" OFFSET ").push_bind(offset);
    q.push(")");
    grant_sql::push_order(&mut q, sort, true);
    q
}

/// For a page newest grant first whose filters bound `last_used_at` from above: the
/// lowest such bound (see `list_query`; only a walk of the sort order's index gains from it,
/// a small matching set read through the filters' index does not).
fn last_used_by(conds: &[Cond], sort: SortOrder) -> Option<DateTime<Utc>> {
    if sort != SortOrder::new(TimeCol::GrantedAt, true) {
        return None;
    }
    conds
        .iter()
        .filter_map(|c| match c {
            Cond::Time(TimeCol::LastUsedAt, TimeTest::Range { to: Some(t), .. }) => Some(*t),
            _ => None,
        })
        .min()
}

/// The `total` query of `list_grants`: the tenant's grant count without conditions, the
/// per-day counts where the filters allow (see `domain::grant_count`), else a count.
fn count_query<'a>(
    tenant: Uuid,
    conds: &[Cond],
    now: DateTime<Utc>,
) -> sqlx::QueryBuilder<'a, sqlx::Postgres> {
    if conds.is_empty() {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT COALESCE((SELECT n FROM grant_counts WHERE tenant_id = ",
        );
        q.push_bind(tenant).push("), 0)::bigint");
        return q;
    }
    if let Some(plan) = day_count_plan(conds, now) {
        return day_count_query(tenant, conds, now, &plan);
    }
    let mut q = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM grants g");
    grant_sql::push_where(&mut q, tenant, conds, now);
    q
}

/// `total` as the per-day counts of the whole days plus a count of the grants on the
/// exact days, with every filter.
fn day_count_query<'a>(
    tenant: Uuid,
    conds: &[Cond],
    now: DateTime<Utc>,
    plan: &DayCountPlan,
) -> sqlx::QueryBuilder<'a, sqlx::Postgres> {
    let col = grant_sql::time_col(plan.col);
    let name = match plan.col {
        TimeCol::ExpiresAt => "expires_at",
        TimeCol::LastUsedAt => "last_used_at",
        TimeCol::GrantedAt => "granted_at",
        other => unreachable!("no per-day counts of {other:?}"),
    };
    let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    let mut q = sqlx::QueryBuilder::new(
        "SELECT ((SELECT COALESCE(SUM(n), 0) FROM grant_day_counts WHERE tenant_id = ",
    );
    q.push_bind(tenant).push(" AND col = ").push_bind(name);
    if let Some(a) = plan.after {
        q.push(" AND day > ").push_bind(a);
    }
    if let Some(b) = plan.before {
        q.push(" AND day < ").push_bind(b);
    }
    if !plan.exact.is_empty() {
        q.push(" AND NOT (day = ANY(")
            .push_bind(plan.exact.clone())
            .push("))");
    }
    q.push(" AND (FALSE");
    for (status, days) in &plan.statuses {
        q.push(" OR (status = ").push_bind(*status);
        match days {
            Days::All => {}
            Days::BeforeToday => {
                q.push(" AND day < ").push_bind(plan.today);
            }
            Days::AfterToday => {
                q.push(" AND day > ").push_bind(plan.today);
            }
        }
        q.push(")");
    }
    q.push("))");
    for d in &plan.exact {
        q.push(" + (SELECT COUNT(*) FROM grants g");
        grant_sql::push_where(&mut q, tenant, conds, now);
        q.push(" AND ")
            .push(col)
            .push(" >= ")
            .push_bind(midnight(*d))
            .push(" AND ")
            .push(col)
            .push(" < ")
            .push_bind(midnight(*d + chrono::Days::new(1)))
            .push(")");
    }
    q.push(")::bigint");
    q
}

pub(super) fn grant_from_row(row: &PgRow) -> Result<Grant> {
    let status: String = row.try_get("status")?;
    let scopes: Json<Vec<String>> = row.try_get("scopes")?;
    let notices: Json<Vec<String>> = row.try_get("notices")?;
    Ok(Grant {
        id: row.try_get("id")?,
        principal: EntityRef {
            etype: row.try_get("principal_type")?,
            id: row.try_get("principal_id")?,
        },
        resource: EntityRef {
            etype: row.try_get("resource_type")?,
            id: row.try_get("resource_id")?,
        },
        app: row.try_get("app")?,
        scopes: scopes.0,
        status: GrantStatus::parse(&status).ok_or_else(|| corrupt("grants.status"))?,
        grant_type: String::new(),
        policy_id: row.try_get("policy_id")?,
        policy_key: row.try_get("policy_key")?,
        requested_by: row.try_get("requested_by")?,
        granted_by: row.try_get("granted_by")?,
        reason: row.try_get("reason")?,
        granted_at: row.try_get("granted_at")?,
        expires_at: row.try_get("expires_at")?,
        extension_count: row.try_get("extension_count")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
        revoke_reason: row.try_get("revoke_reason")?,
        audit_session: row.try_get("audit_session")?,
        notices: notices.0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
        review_required: row.try_get("review_required")?,
        last_decision: row
            .try_get::<Option<Json<crate::domain::grant::LastDecision>>, _>("last_decision")?
            .map(|d| d.0),
        approval: row
            .try_get::<Option<Json<crate::domain::grant::ApprovalState>>, _>("approval")?
            .map(|d| d.0),
    }
    .typed())
}

async fn read_idempotency(
    conn: &mut PgConnection,
    key_id: KeyId,
    idem_key: &str,
) -> Result<Option<IdempotencyRecord>> {
    let row = sqlx::query("SELECT * FROM idempotency WHERE key_id = $1 AND idem_key = $2")
        .bind(key_id.0)
        .bind(idem_key)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(idempotency_from_row).transpose()
}

pub(super) fn idempotency_from_row(row: &PgRow) -> Result<IdempotencyRecord> {
    let status: i64 = row.try_get("status")?;
    Ok(IdempotencyRecord {
        key_id: KeyId(row.try_get("key_id")?),
        idem_key: row.try_get("idem_key")?,
        body_hash: row.try_get("body_hash")?,
        status: u16::try_from(status).map_err(|_| corrupt("idempotency.status"))?,
        response: row.try_get("response")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Inserts an idempotency record, or returns the one that is already there (a record older
/// than [`IDEMPOTENCY_WINDOW`](crate::store::IDEMPOTENCY_WINDOW) is replaced: the key may be
/// used again). The caller holds the tenant's head, and a key belongs to one tenant, so two
/// claims of one key never race.
async fn claim_idempotency(
    conn: &mut PgConnection,
    tenant: TenantId,
    r: &IdempotencyRecord,
) -> Result<Option<IdempotencyRecord>> {
    if let Some(existing) = read_idempotency(conn, r.key_id, &r.idem_key).await? {
        if existing.stands_at(r.created_at) {
            return Ok(Some(existing));
        }
        sqlx::query("DELETE FROM idempotency WHERE key_id = $1 AND idem_key = $2")
            .bind(r.key_id.0)
            .bind(&r.idem_key)
            .execute(&mut *conn)
            .await?;
    }
    insert_idempotency(conn, &[(tenant, r)]).await?;
    Ok(None)
}

/// Stores idempotency records, one statement for all.
pub(super) async fn insert_idempotency(
    conn: &mut PgConnection,
    records: &[(TenantId, &IdempotencyRecord)],
) -> Result<()> {
    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "INSERT INTO idempotency (key_id, idem_key, tenant_id, body_hash, status, response, created_at) ",
    );
    q.push_values(records, |mut b, (tenant, r)| {
        b.push_bind(r.key_id.0)
            .push_bind(r.idem_key.clone())
            .push_bind(tenant.0)
            .push_bind(r.body_hash.clone())
            .push_bind(i64::from(r.status))
            .push_bind(r.response.clone())
            .push_bind(r.created_at);
    });
    q.build().execute(&mut *conn).await?;
    Ok(())
}

/// Which active matching grants [`find_active`] reads.
enum Finding<'a> {
    /// Up to this many, in id order, after this id.
    After(Option<Uuid>, i64),
    /// Those of these ids.
    Ids(&'a [Uuid]),
}

/// The tenant's grants that are active at `now` and match every condition.
async fn find_active<'e, E>(
    conn: E,
    tenant: TenantId,
    conds: &[Cond],
    now: DateTime<Utc>,
    which: Finding<'_>,
    statuses: &str,
) -> Result<Vec<Grant>>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let mut q =
        sqlx::QueryBuilder::<sqlx::Postgres>::new(format!("SELECT {GRANT_COLUMNS} {GRANT_FROM}"));
    grant_sql::push_where(&mut q, tenant.0, conds, now);
    q.push(format!(" AND g.status IN {statuses} AND g.expires_at > "))
        .push_bind(now);
    match which {
        Finding::After(after, limit) => {
            if let Some(a) = after {
                q.push(" AND g.id > ").push_bind(a);
            }
            q.push(" ORDER BY g.id LIMIT ").push_bind(limit);
        }
        Finding::Ids(ids) => {
            q.push(" AND g.id = ANY(").push_bind(ids.to_vec()).push(")");
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
    now: DateTime<Utc>,
    found: &[Grant],
    revoke: &(dyn for<'g> Fn(&'g Grant) -> (Grant, NewEvent) + Send + Sync),
    events: &mut Vec<(TenantId, NewEvent)>,
) -> Result<Vec<Uuid>> {
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
        .bind(next.revoked_at)
        .bind(&next.revoked_by)
        .bind(&next.revoke_reason)
        .bind(next.updated_at)
        .bind(next.version)
        .bind(tenant.0)
        .bind(g.id)
        .bind(g.version)
        .bind(now)
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
    conn: &mut PgConnection,
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
    .bind(Json(&g.scopes))
    .bind(g.status.as_str())
    .bind(g.policy_id)
    .bind(&g.granted_by)
    .bind(g.granted_at)
    .bind(g.expires_at)
    .bind(g.extension_count)
    .bind(g.revoked_at)
    .bind(&g.revoked_by)
    .bind(&g.revoke_reason)
    .bind(g.audit_session)
    .bind(Json(&g.notices))
    .bind(g.updated_at)
    .bind(g.version)
    .bind(tenant.0)
    .bind(g.id)
    .bind(expected_version)
    .bind(g.last_decision.as_ref().map(Json))
    .bind(g.review_required)
    .bind(now)
    .bind(g.approval.as_ref().map(Json))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page splits its walk in two only for a bound on the last use, newest grant
    /// first, through the sort order's index (`tests/grant_list.rs` checks the answers).
    #[test]
    fn only_a_walk_newest_first_under_a_last_use_bound_is_split() {
        let now: DateTime<Utc> = "2026-01-10T12:00:00Z".parse().unwrap();
        let range = |from, to| {
            vec![Cond::Time(
                TimeCol::LastUsedAt,
                TimeTest::Range { from, to },
            )]
        };
        let newest = SortOrder::new(TimeCol::GrantedAt, true);
        let split = |conds: &[Cond], sort, via_index| {
            list_query(Uuid::nil(), conds, sort, None, 0, 25, now, via_index)
                .sql()
                .contains("UNION ALL")
        };
        assert!(split(&range(None, Some(now)), newest, true));
        assert!(!split(&range(None, Some(now)), newest, false));
        assert!(!split(
            &range(None, Some(now)),
            SortOrder::new(TimeCol::GrantedAt, false),
            true
        ));
        assert!(!split(
            &range(None, Some(now)),
            SortOrder::new(TimeCol::ExpiresAt, true),
            true
        ));
        assert!(!split(&range(Some(now), None), newest, true));
        assert!(!split(&[], newest, true));
    }
}
