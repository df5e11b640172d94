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
mod grant_batch;
mod grant_sql;
mod grants;
mod notify;
mod reevaluations;
mod tenants;
mod webhooks;

use notify::{notify, Notice};

use super::{
    AuditStore, Commit, CommitListener, ConfigSnapshot, ConfigStore, EntityRow, EventFilter,
    GrantStore, IdempotencyRecord, ImportBatch, InsertOutcome, KeyRecord, NewTenant,
    PolicySetVersion, ReevaluationStore, Store, TenantConfig, TenantStore, WriteOutcome,
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
use std::collections::HashMap;
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

/// The first key of the advisory locks of [`Job`]s ("grnt"), so they do not collide with
/// locks other software takes on the same database.
const JOB_LOCK_CLASS: i32 = 0x6772_6e74;

/// Background work that runs on one process at a time however many share the database
/// (see [`take_job`]). Statistics upkeep is PostgreSQL's own autovacuum.
#[derive(Debug, Clone, Copy)]
#[repr(i32)]
enum Job {
    /// The expiry sweeper.
    Sweep = 1,
    /// Audit retention.
    Retention = 2,
}

pub struct PgStore {
    pool: PgPool,
    listener: std::sync::OnceLock<CommitListener>,
    /// The task that hears other processes' commits (see `notify`), from
    /// `set_commit_listener` until `close`.
    listening: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Commits new grants in groups (see `grant_batch`).
    grants: grant_batch::GrantBatcher,
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
            grants: grant_batch::GrantBatcher::start(pool.clone()),
            pool,
            listener: std::sync::OnceLock::new(),
            listening: std::sync::Mutex::new(None),
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
    async fn write_tx(&self, tenants: &[TenantId]) -> Result<WriteTx> {
        WriteTx::begin(&self.pool, tenants).await
    }

    /// A read-only transaction on one snapshot.
    async fn snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }
}

/// Takes the advisory lock of `job` for the transaction on `conn`, if no other process
/// holds it (`false` then): the job's work runs in that transaction, so the lock is held
/// exactly as long as the work, and a process that dies mid-job releases it with its
/// connection, its work rolled back.
async fn take_job(conn: &mut PgConnection, job: Job) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, $2)")
            .bind(JOB_LOCK_CLASS)
            .bind(job as i32)
            .fetch_one(&mut *conn)
            .await?,
    )
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

pub(super) fn corrupt(what: &str) -> Error {
    Error::internal(anyhow::anyhow!("corrupt row: {what}"))
}

/// A write transaction that holds the chain heads of its tenants, with the heads and the
/// configuration revisions read when they were locked (see [`PgStore::write_tx`]).
/// Dereferences to the connection; dropping it without `commit` rolls back.
pub(super) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    heads: HashMap<TenantId, Head>,
    revisions: HashMap<TenantId, i64>,
    /// The locked tenants that have webhooks (read with the revisions): only their grant
    /// events need outbox rows.
    hooked: std::collections::HashSet<TenantId>,
}

impl WriteTx {
    async fn begin(pool: &PgPool, tenants: &[TenantId]) -> Result<WriteTx> {
        let mut tx = WriteTx {
            tx: pool.begin().await?,
            heads: HashMap::new(),
            revisions: HashMap::new(),
            hooked: std::collections::HashSet::new(),
        };
        tx.lock(tenants).await?;
        Ok(tx)
    }

    /// Locks the chain heads of `tenants` not held yet (deduplicated, in id order, so two
    /// writes never wait for each other's heads in opposite orders) and reads them, then
    /// the tenants' revisions.
    ///
    /// The revisions take a statement of their own: a statement that waited for a head
    /// re-reads only the rows it locks once the holder commits, so a revision read by the
    /// locking statement could predate the configuration write it waited for. Read after
    /// the lock, it is the revision every later write of the tenant must start from.
    async fn lock(&mut self, tenants: &[TenantId]) -> Result<()> {
        let mut ids: Vec<Uuid> = tenants
            .iter()
            .filter(|t| !self.heads.contains_key(t))
            .map(|t| t.0)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort();
        ids.dedup();
        let rows = sqlx::query(
            "SELECT tenant_id, seq, hash, last_at FROM audit_heads WHERE tenant_id = ANY($1) \
             ORDER BY tenant_id FOR UPDATE",
        )
        .bind(&ids)
        .fetch_all(&mut *self.tx)
        .await?;
        if rows.len() != ids.len() {
            return Err(Error::not_found("tenant"));
        }
        for r in rows {
            let tenant = TenantId(r.try_get("tenant_id")?);
            self.heads.insert(
                tenant,
                (r.try_get("seq")?, r.try_get("hash")?, r.try_get("last_at")?),
            );
        }
        // (a webhook is created holding its tenant's head too: read after the lock, this
        // says whether any exists for the rest of the transaction)
        let revisions: Vec<(Uuid, i64, bool)> = sqlx::query_as(
            "SELECT t.id, t.revision, EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = t.id)              FROM tenants t WHERE t.id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *self.tx)
        .await?;
        for (id, revision, hooked) in revisions {
            self.revisions.insert(TenantId(id), revision);
            if hooked {
                self.hooked.insert(TenantId(id));
            }
        }
        Ok(())
    }

    /// Whether the tenant's configuration is at `revision` (read once its head was locked;
    /// no configuration write of the tenant can commit after that: they all lock the head).
    fn revision_is(&self, tenant: TenantId, revision: i64) -> bool {
        self.revisions.get(&tenant) == Some(&revision)
    }

    /// Appends events to their tenants' chains: the events and the new heads in one
    /// statement, however many events and tenants.
    async fn append(&mut self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let tenants: Vec<TenantId> = events.iter().map(|(t, _)| *t).collect();
        self.lock(&tenants).await?;
        let mut heads: HashMap<TenantId, Head> = tenants
            .iter()
            .filter_map(|t| self.heads.get(t).map(|h| (*t, h.clone())))
            .collect();
        let placed = place_events(&mut heads, events);
        let n = placed.len();
        let (mut tenant, mut seq, mut id, mut at) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut kind, mut subject_type, mut subject_id, mut decision) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut body, mut prev_hash, mut hash) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for p in &placed {
            let c = &p.event.content;
            tenant.push(
                p.tenant
                    .parse::<Uuid>()
                    .map_err(|_| corrupt("placed tenant id"))?,
            );
            seq.push(c.seq);
            id.push(c.id.0);
            at.push(c.at);
            kind.push(c.kind.as_str());
            subject_type.push(c.subject.kind.as_str());
            subject_id.push(c.subject.id.as_str());
            decision.push(c.decision.as_deref());
            body.push(p.body.as_str());
            prev_hash.push(p.event.prev_hash.as_str());
            hash.push(p.event.hash.as_str());
        }
        let mut head_tenant = Vec::with_capacity(heads.len());
        let (mut head_seq, mut head_hash, mut head_at) = (Vec::new(), Vec::new(), Vec::new());
        for (t, (s, h, a)) in &heads {
            head_tenant.push(t.0);
            head_seq.push(*s);
            head_hash.push(h.as_str());
            head_at.push(*a);
        }
        sqlx::query(
            "WITH appended AS (INSERT INTO audit_events \
             (tenant_id, seq, id, at, kind, subject_type, subject_id, decision, body, prev_hash, hash) \
             SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::timestamptz[], \
             $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])) \
             UPDATE audit_heads h SET seq = v.seq, hash = v.hash, last_at = v.last_at \
             FROM unnest($12::uuid[], $13::bigint[], $14::text[], $15::timestamptz[]) \
             AS v(tenant_id, seq, hash, last_at) WHERE h.tenant_id = v.tenant_id",
        )
        .bind(&tenant)
        .bind(&seq)
        .bind(&id)
        .bind(&at)
        .bind(&kind)
        .bind(&subject_type)
        .bind(&subject_id)
        .bind(&decision)
        .bind(&body)
        .bind(&prev_hash)
        .bind(&hash)
        .bind(&head_tenant)
        .bind(&head_seq)
        .bind(&head_hash)
        .bind(&head_at)
        .execute(&mut *self.tx)
        .await?;
        self.heads.extend(heads);
        let appended = super::appended(placed)?;
        // the outbox rows of the grant events, in the same transaction
        let notify = super::to_notify(&appended, |t| self.hooked.contains(t));
        if !notify.is_empty() {
            webhooks::enqueue(&mut self.tx, &notify).await?;
        }
        Ok(appended.into_iter().map(|(_, e)| e).collect())
    }

    async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn set_commit_listener(&self, listener: CommitListener) {
        if self.listener.set(listener.clone()).is_ok() {
            let task = Self::spawn_listener(self.pool.clone(), listener);
            *self.listening.lock().expect("listener task lock") = Some(task);
        }
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
        if let Some(task) = self.listening.lock().expect("listener task lock").take() {
            task.abort();
        }
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
