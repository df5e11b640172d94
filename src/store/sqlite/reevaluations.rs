//! Re-evaluations of active grants and the tenant's `on_change` setting. A step runs in
//! one write transaction (SQLite's one writer), so its grant changes, their events and
//! the cursor's move commit together or not at all: after a crash the re-evaluation
//! resumes at the last committed cursor, and no grant is handled twice.

use super::*;
use crate::domain::reevaluation::{
    Applied, Found, OnChange, Reevaluation, ReevaluationStatus, Step, StepOutcome,
};
use uuid::Uuid;

/// Inside a configuration write's transaction, once the tenant is at `revision`: closes
/// the tenant's open re-evaluations (the new one examines every grant again) and creates
/// the new one, already done when the tenant's `on_change` is `none`.
pub(super) async fn start(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    revision: i64,
    at: &str,
) -> Result<()> {
    let t = tenant.to_string();
    if let Some(now) = parse_ts(at) {
        let cutoff = now - chrono::Duration::days(crate::domain::reevaluation::KEEP_FINISHED_DAYS);
        sqlx::query(
            "DELETE FROM reevaluations WHERE tenant_id = $1 \
             AND status IN ('done', 'superseded') AND finished_at < $2",
        )
        .bind(&t)
        .bind(format_ts(&cutoff))
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE reevaluations SET status = 'superseded', updated_at = $2, finished_at = $2 \
         WHERE tenant_id = $1 AND status IN ('pending', 'running')",
    )
    .bind(&t)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO reevaluations (tenant_id, version, on_change, status, created_at, \
         updated_at, finished_at) SELECT id, $2, on_change, \
         CASE WHEN on_change = 'none' THEN 'done' ELSE 'pending' END, $3, $3, \
         CASE WHEN on_change = 'none' THEN $3 END FROM tenants WHERE id = $1",
    )
    .bind(&t)
    .bind(revision)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn from_row(row: &SqliteRow) -> Result<Reevaluation> {
    let version: i64 = row.try_get("version")?;
    let on_change: String = row.try_get("on_change")?;
    let status: String = row.try_get("status")?;
    let cursor: Option<String> = row.try_get("cursor")?;
    Ok(Reevaluation {
        id: version,
        policy_set_version: version,
        on_change: OnChange::parse(&on_change).ok_or_else(|| corrupt("reevaluations.on_change"))?,
        status: ReevaluationStatus::parse(&status)
            .ok_or_else(|| corrupt("reevaluations.status"))?,
        found: Found {
            examined: row.try_get("examined")?,
            denied: row.try_get("denied")?,
            clamped: row.try_get("clamp_found")?,
            policy_changed: row.try_get("policy_changed")?,
        },
        applied: Applied {
            flagged: row.try_get("flagged")?,
            clamped: row.try_get("clamped")?,
            revoked: row.try_get("revoked")?,
            cleared: row.try_get("cleared")?,
            moved: row.try_get("moved")?,
        },
        created_at: ts_col(row, "created_at")?,
        updated_at: ts_col(row, "updated_at")?,
        finished_at: opt_ts_col(row, "finished_at")?,
        cursor: cursor
            .map(|c| c.parse().map_err(|_| corrupt("reevaluations.cursor")))
            .transpose()?,
        pending: pending_of(row)?,
    })
}

fn pending_of(row: &SqliteRow) -> Result<Vec<Uuid>> {
    let text: Option<String> = row.try_get("pending")?;
    text.map(|t| serde_json::from_str(&t).map_err(|_| corrupt("reevaluations.pending")))
        .transpose()
        .map(Option::unwrap_or_default)
}

#[async_trait::async_trait]
impl ReevaluationStore for SqliteStore {
    async fn on_change(&self, tenant: TenantId) -> Result<OnChange> {
        let v: Option<String> = sqlx::query_scalar("SELECT on_change FROM tenants WHERE id = $1")
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let v = v.ok_or_else(|| Error::not_found("tenant"))?;
        OnChange::parse(&v).ok_or_else(|| corrupt("tenants.on_change"))
    }

    async fn set_on_change(
        &self,
        tenant: TenantId,
        on_change: OnChange,
        event: NewEvent,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE tenants SET on_change = $1 WHERE id = $2")
            .bind(on_change.as_str())
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await?;
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reevaluation(&self, tenant: TenantId, version: i64) -> Result<Option<Reevaluation>> {
        sqlx::query("SELECT * FROM reevaluations WHERE tenant_id = $1 AND version = $2")
            .bind(tenant.to_string())
            .bind(version)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    async fn open_reevaluations(&self, limit: i64) -> Result<Vec<(TenantId, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT tenant_id, version FROM reevaluations \
             WHERE status IN ('pending', 'running') ORDER BY created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(t, v)| {
                Ok((
                    TenantId(t.parse().map_err(|_| corrupt("reevaluations.tenant_id"))?),
                    v,
                ))
            })
            .collect()
    }

    async fn apply_reevaluation(
        &self,
        tenant: TenantId,
        version: i64,
        step: Step,
    ) -> Result<StepOutcome> {
        let t = tenant.to_string();
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT * FROM reevaluations WHERE tenant_id = $1 AND version = $2")
            .bind(&t)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(current) = row.as_ref().map(from_row).transpose()? else {
            return Ok(StepOutcome::Moved);
        };
        let fits =
            current.status.is_open() && (step.retry || current.cursor == step.expected_cursor);
        if !fits {
            return Ok(StepOutcome::Moved);
        }
        let now = format_ts(&step.now);
        if !revision_is(&mut tx, tenant, version).await? {
            // a later write moved the tenant on; its own re-evaluation takes over
            sqlx::query(
                "UPDATE reevaluations SET status = 'superseded', updated_at = $3, \
                 finished_at = $3 WHERE tenant_id = $1 AND version = $2",
            )
            .bind(&t)
            .bind(version)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(StepOutcome::Moved);
        }
        let mut applied = Applied::default();
        let mut events = Vec::new();
        let mut lost = Vec::new();
        for c in step.changes {
            if write_grant(&mut tx, tenant, &c.next, c.expected_version, Some(step.now)).await? {
                applied.count(c.applied);
                events.push((tenant, c.event));
            } else {
                lost.push(c.next.id);
            }
        }
        let f = step.found;
        sqlx::query(
            "UPDATE reevaluations SET cursor = CASE WHEN $15 THEN cursor ELSE $3 END, \
             examined = examined + $4, \
             denied = denied + $5, clamp_found = clamp_found + $6, \
             policy_changed = policy_changed + $7, flagged = flagged + $8, \
             clamped = clamped + $9, revoked = revoked + $10, cleared = cleared + $11, \
             moved = moved + $16, pending = $17, \
             status = CASE WHEN $15 THEN status ELSE $12 END, updated_at = $13, \
             finished_at = CASE WHEN $15 THEN finished_at ELSE $14 END \
             WHERE tenant_id = $1 AND version = $2",
        )
        .bind(&t)
        .bind(version)
        .bind(step.cursor.map(|c| c.to_string()))
        .bind(f.examined)
        .bind(f.denied)
        .bind(f.clamped)
        .bind(f.policy_changed)
        .bind(applied.flagged)
        .bind(applied.clamped)
        .bind(applied.revoked)
        .bind(applied.cleared)
        // closed only with nothing left pending
        .bind(if step.done && lost.is_empty() {
            "done"
        } else {
            "running"
        })
        .bind(&now)
        .bind((step.done && lost.is_empty()).then_some(&now))
        .bind(step.retry)
        .bind(applied.moved)
        .bind((!lost.is_empty()).then(|| serde_json::json!(lost).to_string()))
        .execute(&mut *tx)
        .await?;
        append_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        Ok(StepOutcome::Applied { lost })
    }
}
