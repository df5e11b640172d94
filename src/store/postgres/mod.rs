//! The PostgreSQL backend (`--database-url postgres://…`): a `PgPool`, its own embedded
//! migrations (`migrations/postgres`), and the same behaviour as the SQLite backend on
//! every trait method.
//!
//! Concurrency: PostgreSQL runs transactions in parallel (read committed), where SQLite
//! runs one writer at a time. A write transaction therefore starts by locking the chain
//! heads (`audit_heads` rows) of the tenants it will append to, in tenant-id order
//! (`write_tx`): writes of one tenant run one after another — the revision checks,
//! version guards and idempotency claims read what the previous write committed — while
//! other tenants' writes go on in parallel, and several processes on one database stay
//! correct (no global lock). Reads that must see one state (a list page and its total,
//! a tenant's configuration, verification) run in one repeatable-read snapshot.
//!
//! Each aggregate's trait implementation is in its own file, as in the SQLite backend:
//! `tenants`, `config`, `grants` (with `grant_sql`, the list filters' SQL in this dialect)
//! and `audit`; error classification is in `errors`.

mod audit;
mod config;
pub(crate) mod errors;
mod grant_sql;
mod grants;
mod tenants;

use super::{
    AuditStore, Commit, CommitListener, ConfigSnapshot, ConfigStore, EntityRow, EventFilter,
    GrantStore, IdempotencyRecord, ImportBatch, InsertOutcome, KeyRecord, NewTenant,
    PolicySetVersion, Store, TenantConfig, TenantStore, WriteOutcome,
};
use crate::domain::audit::{
    place_events, AuditEvent, ChainHead as Head, ChainVerifier, NewEvent, StoredRow, VerifyReport,
    GENESIS_HASH,
};
use crate::domain::decision::EntityRef;
use crate::domain::grant::{Grant, GrantStatus};
use crate::domain::ids::{KeyId, TenantId};
use crate::domain::policy::{Policy, PolicyRef};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Row};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// Connections per process. Writes of one tenant run one at a time (see the module
/// docs), so more connections serve more tenants and reads in parallel.
const MAX_CONNECTIONS: u32 = 16;

/// How long a request waits for a connection (all busy, or the server unreachable) before
/// it answers `503 unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one statement may run. A server that stops answering (a network partition, a
/// stopped process) ends in `503 unavailable` within this bound instead of a request that
/// hangs; no statement of grantd comes near it.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PgStore {
    pool: PgPool,
    listener: std::sync::OnceLock<CommitListener>,
}

impl PgStore {
    /// Connects to the database `url` names, creating the database first when the server
    /// has none of that name (and the role may create one); otherwise the error says how.
    pub async fn connect(url: &str) -> Result<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| Error::invalid(format!("invalid PostgreSQL URL: {e}")))?
            .application_name("grantd")
            .options([(
                "statement_timeout",
                format!("{}ms", STATEMENT_TIMEOUT.as_millis()),
            )]);
        let pool = match Self::pool(opts.clone()).await {
            Ok(pool) => pool,
            Err(e) if errors::is_missing_database(&e) => {
                create_database(&opts).await?;
                Self::pool(opts).await.map_err(unreachable_error)?
            }
            Err(e) => return Err(unreachable_error(e)),
        };
        Ok(PgStore {
            pool,
            listener: std::sync::OnceLock::new(),
        })
    }

    async fn pool(opts: PgConnectOptions) -> std::result::Result<PgPool, sqlx::Error> {
        PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // one connection now, so a wrong URL or an unreachable server says so at start
            .min_connections(1)
            .connect_with(opts)
            .await
    }

    fn committed(&self, c: Commit) {
        if let Some(l) = self.listener.get() {
            l(c);
        }
    }

    /// A write transaction holding the chain heads of `tenants` (see the module docs).
    /// Fails as `not_found` when a tenant has no chain.
    async fn write_tx(
        &self,
        tenants: &[TenantId],
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        lock_heads(&mut tx, tenants).await?;
        Ok(tx)
    }

    /// A read-only transaction on one snapshot.
    async fn snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }
}

/// The error of a server that could not be reached or refused the connection: a 503 that
/// names the server (without its password).
fn unreachable_error(e: sqlx::Error) -> Error {
    match Error::from(e) {
        Error::Internal(e) => Error::Unavailable(e),
        other => other,
    }
}

/// Creates the database `opts` names, through the server's `postgres` database.
async fn create_database(opts: &PgConnectOptions) -> Result<()> {
    let name = opts
        .get_database()
        .ok_or_else(|| Error::invalid("the PostgreSQL URL names no database"))?
        .to_string();
    let mut conn = opts
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(unreachable_error)?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match sqlx::query(&format!("CREATE DATABASE {quoted}"))
        .execute(&mut conn)
        .await
    {
        Ok(_) => {
            tracing::info!(database = %name, "created the PostgreSQL database");
            Ok(())
        }
        // another process created it first
        Err(e) if errors::is_duplicate_database(&e) => Ok(()),
        Err(e) => Err(Error::invalid(format!(
            "the PostgreSQL database {name:?} does not exist and could not be created ({e}); \
             create it with `createdb {name}` or give a role that may create databases"
        ))),
    }
}

/// Locks the chain heads of `tenants` (deduplicated, in id order, so two writes never wait
/// for each other's heads in opposite orders).
async fn lock_heads(conn: &mut PgConnection, tenants: &[TenantId]) -> Result<()> {
    if tenants.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<Uuid> = tenants.iter().map(|t| t.0).collect();
    ids.sort();
    ids.dedup();
    let found = sqlx::query(
        "SELECT tenant_id FROM audit_heads WHERE tenant_id = ANY($1) ORDER BY tenant_id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    if found.len() != ids.len() {
        return Err(Error::not_found("tenant"));
    }
    Ok(())
}

pub(super) fn corrupt(what: &str) -> Error {
    Error::internal(anyhow::anyhow!("corrupt row: {what}"))
}

/// The insert of event rows into `audit_events`, up to its values.
const AUDIT_INSERT: &str = "INSERT INTO audit_events \
    (tenant_id, seq, id, at, kind, subject_type, subject_id, decision, body, prev_hash, hash) ";

/// Appends events to their tenants' chains inside an open write transaction that holds
/// their heads (see [`PgStore::write_tx`]).
async fn append_in_tx(
    conn: &mut PgConnection,
    events: Vec<(TenantId, NewEvent)>,
) -> Result<Vec<AuditEvent>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<Uuid> = events.iter().map(|(t, _)| t.0).collect();
    ids.sort();
    ids.dedup();
    // `FOR UPDATE` again: free when the transaction holds them, and correct when it does not
    let rows = sqlx::query(
        "SELECT tenant_id, seq, hash, last_at FROM audit_heads WHERE tenant_id = ANY($1) \
         ORDER BY tenant_id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    if rows.len() != ids.len() {
        return Err(Error::not_found("tenant"));
    }
    let mut heads: std::collections::HashMap<TenantId, Head> = std::collections::HashMap::new();
    for r in rows {
        heads.insert(
            TenantId(r.try_get("tenant_id")?),
            (r.try_get("seq")?, r.try_get("hash")?, r.try_get("last_at")?),
        );
    }
    let placed = place_events(&mut heads, events);
    // Many rows per statement: a group commit of hundreds of events is a few statements.
    const ROWS_PER_INSERT: usize = 256;
    let tenants = placed
        .iter()
        .map(|p| {
            p.tenant
                .parse::<Uuid>()
                .map_err(|_| corrupt("placed tenant id"))
        })
        .collect::<Result<Vec<_>>>()?;
    let rows: Vec<_> = tenants.iter().zip(&placed).collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(AUDIT_INSERT);
        q.push_values(chunk, |mut b, (tenant, p)| {
            let c = &p.event.content;
            b.push_bind(**tenant)
                .push_bind(c.seq)
                .push_bind(c.id.0)
                .push_bind(c.at)
                .push_bind(c.kind.as_str())
                .push_bind(c.subject.kind.clone())
                .push_bind(c.subject.id.clone())
                .push_bind(c.decision.clone())
                .push_bind(p.body.clone())
                .push_bind(p.event.prev_hash.clone())
                .push_bind(p.event.hash.clone());
        });
        q.build().execute(&mut *conn).await?;
    }
    for (tenant, (seq, hash, last_at)) in heads {
        sqlx::query(
            "UPDATE audit_heads SET seq = $1, hash = $2, last_at = $3 WHERE tenant_id = $4",
        )
        .bind(seq)
        .bind(&hash)
        .bind(last_at)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    }
    Ok(placed.into_iter().map(|p| p.event).collect())
}

/// Whether the tenant's configuration is still at `revision`.
async fn revision_is(conn: &mut PgConnection, tenant: TenantId, revision: i64) -> Result<bool> {
    let current: i64 = sqlx::query_scalar("SELECT revision FROM tenants WHERE id = $1")
        .bind(tenant.0)
        .fetch_one(&mut *conn)
        .await?;
    Ok(current == revision)
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn set_commit_listener(&self, listener: CommitListener) {
        let _ = self.listener.set(listener);
    }

    async fn migrate(&self) -> Result<()> {
        // sqlx takes an advisory lock: processes starting together migrate once
        sqlx::migrate!("./migrations/postgres")
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

    async fn probe_write(&self) -> Result<()> {
        // one small synced write: a server that is read-only, out of disk or gone fails it
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('probe', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(crate::clock::format_ts(&Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn cursor_secret(&self) -> Result<Vec<u8>> {
        let mut fresh = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut fresh);
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('cursor_key', $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(hex::encode(fresh))
        .execute(&self.pool)
        .await?;
        let v: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = 'cursor_key'")
            .fetch_one(&self.pool)
            .await?;
        hex::decode(v).map_err(|_| corrupt("settings.cursor_key"))
    }

    async fn change_marks(&self) -> Result<(Vec<(TenantId, i64)>, i64)> {
        let rows: Vec<(Uuid, i64)> = sqlx::query_as("SELECT id, revision FROM tenants")
            .fetch_all(&self.pool)
            .await?;
        let revoked: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok((
            rows.into_iter().map(|(id, r)| (TenantId(id), r)).collect(),
            revoked,
        ))
    }
}
