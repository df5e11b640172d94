//! The SQLite backend: WAL, foreign keys on, a busy timeout, and `BEGIN IMMEDIATE` for every
//! write so writers queue on SQLite's lock instead of failing half-way through.

use super::{KeyRecord, NewTenant, Store};
use crate::clock::{format_ts, parse_ts};
use crate::domain::audit::{
    chain_hash, AuditEvent, ChainVerifier, EventContent, NewEvent, StoredRow, VerifyReport,
    GENESIS_HASH,
};
use crate::domain::ids::{EventId, KeyId, TenantId};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write survives a power cut, not just a crash. Group
            // commit keeps the fsync cost per decision small.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| Error::Unavailable(e.into()))?;
        Ok(SqliteStore { pool })
    }

    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn corrupt(what: &str) -> Error {
    Error::internal(anyhow::anyhow!("corrupt row: {what}"))
}

fn ts_col(row: &SqliteRow, col: &str) -> Result<DateTime<Utc>> {
    let s: String = row.try_get(col)?;
    parse_ts(&s).ok_or_else(|| corrupt(col))
}

fn opt_ts_col(row: &SqliteRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| parse_ts(&s).ok_or_else(|| corrupt(col)))
        .transpose()
}

fn key_from_row(row: &SqliteRow) -> Result<KeyRecord> {
    let id: String = row.try_get("id")?;
    let tenant: String = row.try_get("tenant_id")?;
    let role: String = row.try_get("role")?;
    Ok(KeyRecord {
        id: id.parse().map_err(|_| corrupt("api_keys.id"))?,
        tenant_id: tenant.parse().map_err(|_| corrupt("api_keys.tenant_id"))?,
        role: role.parse().map_err(|_| corrupt("api_keys.role"))?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        created_at: ts_col(row, "created_at")?,
        revoked_at: opt_ts_col(row, "revoked_at")?,
    })
}

/// Appends events to their tenants' chains inside an open write transaction.
pub(crate) async fn append_in_tx(
    conn: &mut SqliteConnection,
    events: Vec<(TenantId, NewEvent)>,
) -> Result<Vec<AuditEvent>> {
    let mut out = Vec::with_capacity(events.len());
    for (tenant, event) in events {
        let tenant_s = tenant.to_string();
        let head = sqlx::query("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(&tenant_s)
            .fetch_optional(&mut *conn)
            .await?;
        let (seq, prev_hash): (i64, String) = match head {
            Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
            None => return Err(Error::not_found("tenant")),
        };
        let content = EventContent::place(event, EventId::new(), seq + 1);
        let body = content.canonical();
        let hash = chain_hash(&prev_hash, &body);
        sqlx::query(
            "INSERT INTO audit_events (tenant_id, seq, id, at, kind, subject_type, subject_id, \
             decision, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&tenant_s)
        .bind(content.seq)
        .bind(content.id.to_string())
        .bind(format_ts(&content.at))
        .bind(content.kind.as_str())
        .bind(&content.subject.kind)
        .bind(&content.subject.id)
        .bind(&content.decision)
        .bind(&body)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE audit_heads SET seq = $1, hash = $2 WHERE tenant_id = $3")
            .bind(content.seq)
            .bind(&hash)
            .bind(&tenant_s)
            .execute(&mut *conn)
            .await?;
        out.push(AuditEvent {
            content,
            hash,
            prev_hash,
        });
    }
    Ok(out)
}

async fn insert_key(conn: &mut SqliteConnection, tenant: TenantId, key: &KeyRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, role, name, secret_hash, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(key.id.to_string())
    .bind(tenant.to_string())
    .bind(key.role.as_str())
    .bind(&key.name)
    .bind(&key.secret_hash)
    .bind(format_ts(&key.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => Error::from(e),
                other => Error::internal(other),
            })
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn count_tenants(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM tenants")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    async fn create_tenant(
        &self,
        tenant: &NewTenant,
        first_key: &KeyRecord,
        event: NewEvent,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let id = tenant.id.to_string();
        let at = format_ts(&tenant.created_at);
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(&tenant.name)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO tenant_schemas (tenant_id, cedarschema, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(&id)
        .bind(&tenant.cedarschema)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_heads (tenant_id, seq, hash, anchor_seq, anchor_hash) \
             VALUES ($1, 0, $2, 0, $2)",
        )
        .bind(&id)
        .bind(GENESIS_HASH)
        .execute(&mut *tx)
        .await?;
        insert_key(&mut tx, tenant.id, first_key).await?;
        append_in_tx(&mut tx, vec![(tenant.id, event)]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_key(&self, id: KeyId) -> Result<Option<KeyRecord>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, event: NewEvent) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
            .bind(tenant.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(Error::not_found("tenant"));
        }
        insert_key(&mut tx, tenant, key).await?;
        append_in_tx(&mut tx, vec![(tenant, event)]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self, tenant: TenantId) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query("SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_key(
        &self,
        tenant: TenantId,
        id: KeyId,
        at: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT revoked_at FROM api_keys WHERE id = $1 AND tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let revoked: Option<String> = row.try_get("revoked_at")?;
        if revoked.is_none() {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3")
                .bind(format_ts(&at))
                .bind(id.to_string())
                .bind(tenant.to_string())
                .execute(&mut *tx)
                .await?;
            append_in_tx(&mut tx, vec![(tenant, event)]).await?;
            tx.commit().await?;
        }
        Ok(true)
    }

    async fn append_events(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>> {
        let mut tx = self.write_tx().await?;
        let out = append_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn verify_chain(&self, tenant: TenantId) -> Result<VerifyReport> {
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
            let mut rows = sqlx::query(
                "SELECT id, seq, kind, at, subject_id, decision, body, prev_hash, hash \
                 FROM audit_events WHERE tenant_id = $1 ORDER BY seq",
            )
            .bind(&t)
            .fetch(&mut *tx);
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

    async fn get_schema(&self, tenant: TenantId) -> Result<String> {
        let row = sqlx::query("SELECT cedarschema FROM tenant_schemas WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("tenant"))?;
        Ok(row.try_get("cedarschema")?)
    }
}
