//! The SQLite backend: WAL, foreign keys on, a busy timeout, and `BEGIN IMMEDIATE` for every
//! write so writers queue on SQLite's lock instead of failing half-way through.

use super::grant_sql;
use super::journal::Row as JRow;
use super::sqlite_appender::{last_rows, Chain};
use super::{
    Commit, CommitListener, ConfigSnapshot, DynStore, EntityRow, EventFilter, IdempotencyRecord,
    ImportBatch, InsertOutcome, KeyRecord, NewTenant, PolicySetVersion, Store, TenantConfig,
    WriteOutcome,
};
use crate::clock::{format_ts, parse_ts};
use crate::domain::audit::{
    place_events, AuditEvent, ChainHead as Head, ChainVerifier, NewEvent, StoredRow, VerifyReport,
    GENESIS_HASH,
};
use crate::domain::decision::EntityRef;
use crate::domain::grant::{Grant, GrantStatus};
use crate::domain::grant_count::{day_count_plan, DayCountPlan, Days};
use crate::domain::grant_query::{After, Cond, SortOrder, TimeCol};
use crate::domain::ids::{KeyId, TenantId};
use crate::domain::policy::{Policy, PolicyRef};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The page size of a database this store creates. Every decision event is written twice
/// as whole pages (into the WAL when the flusher moves a journal file into `audit_events`,
/// then into the database at the checkpoint), one `pwrite` or `pread` per page. With 16
/// KiB pages instead of SQLite's 4 KiB default the flusher makes a quarter of the calls for
/// the same bytes and its CPU per event fell by about a quarter. An existing database keeps
/// the page size it was created with (SQLite changes it only by `VACUUM`, outside WAL
/// mode; the README says how).
pub const PAGE_SIZE: u32 = 16384;

pub struct SqliteStore {
    pool: SqlitePool,
    /// Commits group-committed decision events on a connection of its own, for the audit
    /// writer's thread; absent for an in-memory database, which another connection could
    /// not see.
    appender: Option<Arc<super::sqlite_appender::Appender>>,
    /// The decision journal's path, for a database file; a store without the appender
    /// inserts its records before each write (see `write_tx`).
    journal: Option<std::path::PathBuf>,
    /// The database file (absent in memory), for the readiness probe's file write.
    file: Option<std::path::PathBuf>,
    listener: std::sync::OnceLock<CommitListener>,
    /// The upkeep task of a server's store (see `start_upkeep`).
    upkeep: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Bytes the readiness probe writes (and syncs, then removes) beside the database: SQLite
/// reuses the space of its WAL, so a small write to it can succeed on a full disk while
/// every write that needs a new page fails; a new file cannot.
const PROBE_FILE_BYTES: usize = 64 << 10;

/// How long a failed journal append keeps the store from being ready (the next append
/// that succeeds clears it sooner).
const JOURNAL_FAULT_HOLD: Duration = Duration::from_secs(5);

fn probe_path(db: &std::path::Path) -> std::path::PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-probe");
    std::path::PathBuf::from(p)
}

/// Writes, syncs and removes a file of [`PROBE_FILE_BYTES`].
fn probe_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let result = std::fs::File::create(path).and_then(|mut f| {
        f.write_all(&[0u8; PROBE_FILE_BYTES])?;
        f.sync_all()
    });
    let removed = std::fs::remove_file(path);
    result?;
    removed
}

impl SqliteStore {
    /// Opens the database without owning the decision journal (as the CLI does): decision
    /// events go through the pool, and every write first inserts what the owner journaled.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, false).await
    }

    /// Opens the database and, if no other process or store has, takes ownership of the
    /// decision journal: decision events are then journaled by the audit writer (as
    /// `grantd serve` does).
    pub async fn connect_owning(url: &str) -> Result<Self> {
        Self::connect_with(url, true).await
    }

    async fn connect_with(url: &str, own: bool) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            // 16 KiB pages for a new database (an existing one keeps its page size; see
            // `PAGE_SIZE`). Set before the journal mode, which fixes it.
            .page_size(PAGE_SIZE)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write survives a power cut, not just a crash. Group
            // commit keeps the fsync cost per decision small.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let file = opts.get_filename().to_path_buf();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // a connection reads the planner statistics when it opens: recycling connections
            // brings the hourly refresh (`optimize`) to every one of them within ten minutes
            .max_lifetime(Duration::from_secs(600))
            .acquire_timeout(Duration::from_secs(5))
            // A connection whose COMMIT failed (the disk was full: SQLite rolled the
            // transaction back itself) is left with sqlx still counting a transaction open;
            // pooled again, every later `begin` on it would fail until its lifetime ended.
            // The ping runs after the rollback a dropped transaction queues, so a count
            // still open then means the connection is out of step: close it.
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::Connection;
                    conn.ping().await?;
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| Error::Unavailable(e.into()))?;
        let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:");
        let journal = (!in_memory).then(|| super::journal::Journal::path_for(&file));
        let owner = match &journal {
            Some(j) if own => super::journal::try_own(j)?,
            _ => None,
        };
        let appender = match owner {
            Some(owner) => Some(Arc::new(super::sqlite_appender::Appender::open(
                &file,
                BUSY_TIMEOUT,
                owner,
            )?)),
            None => None,
        };
        Ok(SqliteStore {
            pool,
            appender,
            journal,
            file: (!in_memory).then_some(file),
            listener: std::sync::OnceLock::new(),
            upkeep: std::sync::Mutex::new(None),
        })
    }

    /// Starts the backend's upkeep (a server's store only): refreshing the query planner's
    /// statistics at start and hourly, so list queries pick the selective index on large
    /// tenants. Stopped by `close`.
    pub fn start_upkeep(&self) {
        let pool = self.pool.clone();
        let task = tokio::spawn(async move {
            let failures = crate::throttle::LogThrottle::new(Duration::from_secs(3600));
            loop {
                if let Err(e) = optimize(&pool).await {
                    if let Some(n) = failures.admit() {
                        tracing::warn!(error = ?e, earlier_not_logged = n, "refreshing planner statistics failed");
                    }
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
        if let Some(old) = self
            .upkeep
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task)
        {
            old.abort();
        }
    }

    /// Refreshes the planner statistics now (what the upkeep does hourly).
    pub async fn optimize(&self) -> Result<()> {
        optimize(&self.pool).await
    }

    /// Moves the journaled decision events into `audit_events` (tests that read the
    /// tables directly; the store's own reads do this themselves).
    pub async fn settle_audit(&self) -> Result<()> {
        self.flush_journal().await
    }

    fn committed(&self, c: Commit) {
        if let Some(l) = self.listener.get() {
            l(c);
        }
    }

    /// A write transaction: `BEGIN IMMEDIATE`, then the chain lock (see `sqlite_appender`),
    /// then the journaled decision events not stored yet inserted, so the transaction reads
    /// the true chain heads. The owner takes them from memory; another store reads them
    /// from the journal file under the journal's file lock, held until the transaction ends.
    async fn write_tx(&self) -> Result<WriteTx> {
        self.write_tx_moving(true).await
    }

    /// [`SqliteStore::write_tx`]; `move_journal: false` leaves the journaled events where
    /// they are (the readiness probe, which must stay small).
    async fn write_tx_moving(&self, move_journal: bool) -> Result<WriteTx> {
        // SQLite's lock first, then the chain lock: the audit writer takes the chain lock
        // without SQLite's (to journal) or tries SQLite's without waiting (to move the
        // journal), so no one waits for SQLite's lock while holding the chain's.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let chain = match &self.appender {
            Some(a) => Some(a.chain.clone().lock_owned().await),
            None => None,
        };
        let foreign = match (&chain, &self.journal) {
            (None, Some(path)) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || super::journal::lock_and_read(&path))
                    .await
                    .map_err(|e| {
                        Error::internal(anyhow::anyhow!("journal lock task failed: {e}"))
                    })??
            }
            _ => None,
        };
        let rows: Vec<&JRow> = match (&chain, &foreign) {
            _ if !move_journal => Vec::new(),
            (Some(c), _) => c.unstored(),
            (None, Some((_, rows))) => rows.iter().collect(),
            _ => Vec::new(),
        };
        if !rows.is_empty() {
            let mut heads = std::collections::HashMap::new();
            for r in &rows {
                if !heads.contains_key(&r.tenant) {
                    let head: Option<(i64, String)> =
                        sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
                            .bind(&r.tenant)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some(h) = head {
                        heads.insert(r.tenant.clone(), h);
                    }
                }
            }
            let take: Vec<&JRow> = super::journal::continuing(
                rows.iter().copied(),
                heads,
                super::journal::Source::File,
            );
            if !take.is_empty() {
                insert_rows(&mut tx, &take).await?;
            }
        }
        let flushed = !rows.is_empty() && chain.is_some();
        drop(rows);
        Ok(WriteTx {
            tx,
            chain,
            flushed,
            _journal_lock: foreign.map(|(file, _)| file),
        })
    }

    /// Moves journaled decision events into `audit_events` (see `sqlite_appender`), so a
    /// read that starts after an event was acknowledged finds it there. Nearly free when
    /// the journal is empty.
    async fn flush_journal(&self) -> Result<()> {
        let pending = match (&self.appender, &self.journal) {
            (Some(a), _) => !a.chain.lock().await.unstored().is_empty(),
            (None, Some(path)) => super::journal::has_records(path),
            _ => false,
        };
        if pending {
            self.write_tx().await?.commit().await?;
        }
        Ok(())
    }

    /// At start: moves what an earlier version left in the decision inbox (migration 0011)
    /// into `audit_events`, then replays the decision journal, taking each record that
    /// continues its tenant's stored chain (the others were moved before the journal was
    /// last reset).
    async fn recover_decisions(&self) -> Result<()> {
        let inboxed: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM audit_inbox)")
            .fetch_one(&self.pool)
            .await?;
        if inboxed {
            let mut tx = self.write_tx().await?;
            for sql in SETTLE_INBOX {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        if let Some(a) = &self.appender {
            let found = {
                let mut chain = a.chain.lock().await;
                let found = std::mem::take(&mut chain.found);
                let n = found.len();
                chain.pending = found;
                n
            };
            if found > 0 {
                // The write transaction inserts those that continue a chain; its commit
                // empties the journal.
                self.write_tx().await?.commit().await?;
                tracing::info!(records = found, "replayed the decision journal");
            }
        }
        Ok(())
    }
}

/// `PRAGMA optimize` with a bounded sample (see `SqliteStore::start_upkeep`).
async fn optimize(pool: &SqlitePool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    // A bounded sample per index keeps this at about a second on a million grants (the
    // statistics are written in one transaction, so writers wait that long; `optimize`
    // only re-analyzes a table that is new to it or has grown 25-fold, so this is rare).
    // The sample must reach past the first tenant and app in a tenant-first index:
    // 1,000 entries saw one app and told the planner nothing.
    sqlx::query("PRAGMA analysis_limit = 50000")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA optimize = 0x10002")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How a configuration write moves the tenant's revision.
enum Revision {
    /// From this revision (the snapshot the write was validated against), else the write
    /// is `StaleRevision`.
    Expect(i64),
    /// Whatever it is now (the write needs no validation against the configuration).
    Bump,
}

/// What a configuration write's row change ends with.
enum Change {
    /// The rows changed: append these events; `versioned` records the compiled set's text
    /// as a new policy-set version (policy writes) where it changed.
    Done {
        events: Vec<(TenantId, NewEvent)>,
        versioned: bool,
    },
    /// Nothing to write: the transaction rolls back and the write answers this.
    Refused(WriteOutcome),
}

impl Change {
    fn done(events: Vec<(TenantId, NewEvent)>) -> Self {
        Change::Done {
            events,
            versioned: false,
        }
    }

    fn versioned(events: Vec<(TenantId, NewEvent)>) -> Self {
        Change::Done {
            events,
            versioned: true,
        }
    }
}

impl SqliteStore {
    /// The shape of every configuration write (policies, schema, entities, import), in one
    /// write transaction: the tenant's revision moves (see [`Revision`]), `change` edits the
    /// rows, the compiled text is recorded as a policy-set version when the change says so,
    /// the events are appended to the chain, and after the commit the caches hear of it.
    async fn config_write(
        &self,
        tenant: TenantId,
        revision: Revision,
        change: impl AsyncFnOnce(&mut WriteTx) -> Result<Change>,
    ) -> Result<WriteOutcome> {
        let mut tx = self.write_tx().await?;
        match revision {
            Revision::Expect(r) => {
                if !bump_revision(&mut tx, tenant, r).await? {
                    return Ok(WriteOutcome::StaleRevision);
                }
            }
            Revision::Bump => {
                sqlx::query("UPDATE tenants SET revision = revision + 1 WHERE id = $1")
                    .bind(tenant.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let (events, versioned) = match change(&mut tx).await? {
            Change::Done { events, versioned } => (events, versioned),
            Change::Refused(outcome) => return Ok(outcome),
        };
        if versioned {
            let at = events
                .first()
                .map(|(_, e)| format_ts(&e.at))
                .unwrap_or_default();
            record_set_version(&mut tx, tenant, &at).await?;
        }
        append_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        self.committed(Commit::Config(tenant));
        Ok(WriteOutcome::Done)
    }
}

/// A write transaction holding the chain lock (see [`SqliteStore::write_tx`]). Dereferences
/// to the connection; dropping it without `commit` rolls back, and the journaled events
/// stay pending.
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    chain: Option<tokio::sync::OwnedMutexGuard<Chain>>,
    /// Whether the pending journaled events are stored as of this transaction.
    flushed: bool,
    /// A store without the appender: the journal file, locked.
    _journal_lock: Option<std::fs::File>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        // `_journal_lock` (a named binding) stays locked until the commit is done.
        let WriteTx {
            tx,
            chain,
            flushed,
            _journal_lock,
        } = self;
        let outcome = tx.commit().await;
        if let Some(mut chain) = chain {
            match &outcome {
                Ok(()) => {
                    chain.committed(flushed);
                    // A synced commit after a failed one: the failed one is gone for good.
                    chain.uncertain = false;
                }
                // Whether it reached the disk is unknown until a later write commits:
                // appending on heads that may be stale could fork a chain, so the writer
                // acknowledges nothing until then (fail closed; see `Chain::uncertain`).
                Err(e) => {
                    if !chain.uncertain {
                        tracing::error!(error = ?e, "a write transaction's commit failed; decisions wait for the next write to commit");
                    }
                    chain.uncertain = true;
                }
            }
        }
        Ok(outcome?)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// Inserts journaled events into `audit_events` and moves their tenants' heads.
async fn insert_rows(conn: &mut SqliteConnection, rows: &[&JRow]) -> Result<()> {
    // Many rows per statement: thousands of events are a few dozen statements.
    const ROWS_PER_INSERT: usize = 64;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(AUDIT_INSERT);
        q.push_values(chunk, |mut b, &r| {
            b.push_bind(&r.tenant)
                .push_bind(r.seq)
                .push_bind(&r.id)
                .push_bind(&r.at)
                .push_bind(&r.kind)
                .push_bind(&r.subject_type)
                .push_bind(&r.subject_id)
                .push_bind(&r.decision)
                .push_bind(&r.body)
                .push_bind(&r.prev_hash)
                .push_bind(&r.hash);
        });
        q.build().execute(&mut *conn).await?;
    }
    for r in last_rows(rows.iter().copied()) {
        sqlx::query(
            "UPDATE audit_heads SET seq = $1, hash = $2, last_at = $3 WHERE tenant_id = $4",
        )
        .bind(r.seq)
        .bind(&r.hash)
        .bind(&r.at)
        .bind(&r.tenant)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) fn corrupt(what: &str) -> Error {
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

/// The columns of an event row, in the order both append paths bind them.
macro_rules! event_columns {
    () => {
        "tenant_id, seq, id, at, kind, subject_type, subject_id, decision, body, prev_hash, hash"
    };
}

/// The insert of an event row into `audit_events`, up to its values (mutations' events).
pub(super) const AUDIT_INSERT: &str = concat!("INSERT INTO audit_events (", event_columns!(), ") ");

/// Moves the decision inbox into `audit_events`, inside a write transaction. The rows keep
/// their placement (seq and hashes were fixed when they were committed to the inbox).
pub(super) const SETTLE_INBOX: [&str; 2] = [
    concat!(
        "INSERT INTO audit_events (",
        event_columns!(),
        ") SELECT ",
        event_columns!(),
        " FROM audit_inbox ORDER BY rowid"
    ),
    // Without a WHERE clause SQLite drops the table's pages at once (and reuses them for
    // the next rows) instead of deleting row by row.
    "DELETE FROM audit_inbox",
];

/// Rows of a tenant's chain for verification: `audit_events` and the inbox, in seq order.
const CHAIN_ROWS: &str = concat!(
    "SELECT id, seq, kind, at, subject_id, decision, body, prev_hash, hash FROM (",
    "SELECT id, seq, kind, at, subject_id, decision, body, prev_hash, hash \
     FROM audit_events WHERE tenant_id = $1 \
     UNION ALL \
     SELECT id, seq, kind, at, subject_id, decision, body, prev_hash, hash \
     FROM audit_inbox WHERE tenant_id = $1",
    ") ORDER BY seq"
);

/// Appends events to their tenants' chains inside an open write transaction.
pub(crate) async fn append_in_tx(
    conn: &mut SqliteConnection,
    events: Vec<(TenantId, NewEvent)>,
) -> Result<Vec<AuditEvent>> {
    let mut heads: std::collections::HashMap<TenantId, Head> = std::collections::HashMap::new();
    for (tenant, _) in &events {
        if let std::collections::hash_map::Entry::Vacant(slot) = heads.entry(*tenant) {
            let head =
                sqlx::query("SELECT seq, hash, last_at FROM audit_heads WHERE tenant_id = $1")
                    .bind(tenant.to_string())
                    .fetch_optional(&mut *conn)
                    .await?
                    .ok_or_else(|| Error::not_found("tenant"))?;
            slot.insert((
                head.try_get("seq")?,
                head.try_get("hash")?,
                opt_ts_col(&head, "last_at")?,
            ));
        }
    }
    let placed = place_events(&mut heads, events);
    // Many rows per statement: a group commit of hundreds of events is a few statements.
    const ROWS_PER_INSERT: usize = 64;
    for chunk in placed.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(AUDIT_INSERT);
        q.push_values(chunk, |mut b, p| {
            let c = &p.event.content;
            b.push_bind(p.tenant.clone())
                .push_bind(c.seq)
                .push_bind(c.id.to_string())
                .push_bind(format_ts(&c.at))
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
        .bind(last_at.as_ref().map(format_ts))
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(placed.into_iter().map(|p| p.event).collect())
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

/// Advances the tenant's configuration revision if it is still `revision`.
async fn bump_revision(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    revision: i64,
) -> Result<bool> {
    let r =
        sqlx::query("UPDATE tenants SET revision = revision + 1 WHERE id = $1 AND revision = $2")
            .bind(tenant.to_string())
            .bind(revision)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// After a policy write in `conn`: records the tenant's compiled text at its (new)
/// revision when it differs from the text in force.
async fn record_set_version(conn: &mut SqliteConnection, tenant: TenantId, at: &str) -> Result<()> {
    let t = tenant.to_string();
    let revision: i64 = sqlx::query("SELECT revision FROM tenants WHERE id = $1")
        .bind(&t)
        .fetch_one(&mut *conn)
        .await?
        .try_get("revision")?;
    let docs = sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 AND enabled = 1")
        .bind(&t)
        .fetch_all(&mut *conn)
        .await?;
    let policies = docs
        .iter()
        .map(policy_from_row)
        .collect::<Result<Vec<_>>>()?;
    let text = crate::domain::policy::compiled_text(&policies);
    let current: Option<String> = sqlx::query(
        "SELECT text FROM policy_set_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(&t)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.try_get("text"))
    .transpose()?;
    if current.as_deref() != Some(text.as_str()) {
        sqlx::query(
            "INSERT INTO policy_set_versions (tenant_id, version, text, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&t)
        .bind(revision)
        .bind(&text)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Whether the tenant's configuration is still at `revision`.
async fn revision_is(conn: &mut SqliteConnection, tenant: TenantId, revision: i64) -> Result<bool> {
    let current: i64 = sqlx::query("SELECT revision FROM tenants WHERE id = $1")
        .bind(tenant.to_string())
        .fetch_one(&mut *conn)
        .await?
        .try_get("revision")?;
    Ok(current == revision)
}

fn policy_doc(p: &Policy) -> Result<String> {
    serde_json::to_string(p).map_err(Error::internal)
}

fn policy_from_row(row: &SqliteRow) -> Result<Policy> {
    let doc: String = row.try_get("doc")?;
    serde_json::from_str(&doc).map_err(|_| corrupt("policies.doc"))
}

async fn insert_policy_row(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    p: &Policy,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO policies (tenant_id, id, key, enabled, priority, version, created_at, \
         updated_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant.to_string())
    .bind(p.id.to_string())
    .bind(&p.key)
    .bind(p.enabled)
    .bind(p.priority)
    .bind(p.version)
    .bind(format_ts(&p.created_at))
    .bind(format_ts(&p.updated_at))
    .bind(policy_doc(p)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces a policy if its version is still `expected`; `false` otherwise.
async fn update_policy_row(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    p: &Policy,
    expected: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE policies SET key = $1, enabled = $2, priority = $3, version = $4, \
         updated_at = $5, doc = $6 WHERE tenant_id = $7 AND id = $8 AND version = $9",
    )
    .bind(&p.key)
    .bind(p.enabled)
    .bind(p.priority)
    .bind(p.version)
    .bind(format_ts(&p.updated_at))
    .bind(policy_doc(p)?)
    .bind(tenant.to_string())
    .bind(p.id.to_string())
    .bind(expected)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Cuts every active grant `p` governs to `granted_at + p.max_duration_seconds` (see
/// `grant::cut_to_policy_max`), in the caller's transaction; returns their events.
async fn cut_grants_to_policy_max(
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

fn entity_from_row(row: &SqliteRow) -> Result<EntityRow> {
    Ok(EntityRow {
        etype: row.try_get("type")?,
        id: row.try_get("id")?,
        body: row.try_get("body")?,
    })
}

const GRANT_COLUMNS: &str = "g.id, g.principal_type, g.principal_id, g.resource_type, g.resource_id, \
    g.app, g.scopes, g.status, g.policy_id, p.key AS policy_key, g.requested_by, g.granted_by, \
    g.reason, g.granted_at, g.expires_at, g.extension_count, g.last_used_at, g.revoked_at, \
    g.revoked_by, g.revoke_reason, g.audit_session, g.notices, g.created_at, g.updated_at, g.version";

const GRANT_FROM: &str =
    "FROM grants g LEFT JOIN policies p ON p.tenant_id = g.tenant_id AND p.id = g.policy_id";

fn json_list(row: &SqliteRow, col: &str) -> Result<Vec<String>> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|_| corrupt(col))
}

/// Up to this many matching grants, a list page is read through the filters' index and
/// sorted in memory; beyond, the sort order's index is walked (matches are then common
/// enough to fill a page quickly). The count that `total` needs anyway tells which.
const SORT_IN_MEMORY_UP_TO: i64 = 20_000;

/// The page query of `list_grants` (`prefix` is `""`, or `"EXPLAIN QUERY PLAN "`).
#[allow(clippy::too_many_arguments)]
fn list_query<'a>(
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
fn count_query<'a>(
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
fn day_count_query<'a>(
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
        grant_type: "PREAPPROVED".into(),
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
    })
}

fn idempotency_from_row(row: &SqliteRow) -> Result<IdempotencyRecord> {
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

async fn read_idempotency(
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
async fn claim_idempotency(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    r: &IdempotencyRecord,
) -> Result<Option<IdempotencyRecord>> {
    if let Some(existing) = read_idempotency(conn, r.key_id, &r.idem_key).await? {
        if existing.created_at > r.created_at - chrono::Duration::hours(24) {
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

fn json_text(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn set_commit_listener(&self, listener: CommitListener) {
        let _ = self.listener.set(listener);
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => Error::from(e),
                other => Error::internal(other),
            })?;
        self.recover_decisions().await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn probe_write(&self) -> Result<()> {
        if let Some(db) = &self.file {
            let path = probe_path(db);
            tokio::task::spawn_blocking(move || probe_file(&path))
                .await
                .map_err(|e| Error::internal(anyhow::anyhow!("probe task failed: {e}")))?
                .map_err(|e| {
                    Error::Unavailable(anyhow::anyhow!(
                        "the database's file system refuses a {PROBE_FILE_BYTES}-byte write: {e}"
                    ))
                })?;
        }
        let mut tx = self.write_tx_moving(false).await?;
        sqlx::query(super::sqlite_appender::PROBE_SQL)
            .bind(format_ts(&chrono::Utc::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if let Some(a) = &self.appender {
            let chain = a.chain.lock().await;
            if chain.stalled() {
                return Err(Error::Unavailable(anyhow::anyhow!(
                    "journaled decision events have not reached the database for {} s",
                    chain.moved_at.elapsed().as_secs()
                )));
            }
            if let Some(at) = chain.journal_failed {
                if at.elapsed() < JOURNAL_FAULT_HOLD {
                    return Err(Error::Unavailable(anyhow::anyhow!(
                        "the decision journal could not be written {} ms ago",
                        at.elapsed().as_millis()
                    )));
                }
            }
        }
        Ok(())
    }

    async fn close(&self) {
        if let Some(task) = self.upkeep.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        if let Some(appender) = &self.appender {
            // What is only journaled would be replayed at the next start; moving it now
            // leaves the database complete for whoever opens it next.
            if let Err(e) = self.flush_journal().await {
                tracing::warn!(error = ?e, "moving the decision journal at close failed");
            }
            appender.close();
        }
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
        sqlx::query(
            "INSERT INTO policy_set_versions (tenant_id, version, text, created_at) VALUES ($1, 0, '', $2)",
        )
        .bind(&id)
        .bind(&at)
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
            self.committed(Commit::KeyRevoked(id));
        }
        Ok(true)
    }

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

    async fn get_schema(&self, tenant: TenantId) -> Result<String> {
        let row = sqlx::query("SELECT cedarschema FROM tenant_schemas WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("tenant"))?;
        Ok(row.try_get("cedarschema")?)
    }

    async fn cursor_secret(&self) -> Result<Vec<u8>> {
        let mut fresh = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut fresh);
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT OR IGNORE INTO settings (name, value) VALUES ('cursor_key', $1)")
            .bind(hex::encode(fresh))
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = 'cursor_key'")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let v: String = row.try_get("value")?;
        hex::decode(v).map_err(|_| corrupt("settings.cursor_key"))
    }

    async fn config_snapshot(&self, tenant: TenantId) -> Result<ConfigSnapshot> {
        let row = sqlx::query(
            "SELECT t.revision, s.cedarschema FROM tenants t \
             JOIN tenant_schemas s ON s.tenant_id = t.id WHERE t.id = $1",
        )
        .bind(tenant.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found("tenant"))?;
        Ok(ConfigSnapshot {
            revision: row.try_get("revision")?,
            cedarschema: row.try_get("cedarschema")?,
        })
    }

    async fn put_schema(
        &self,
        tenant: TenantId,
        revision: i64,
        cedarschema: &str,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            sqlx::query(
                "UPDATE tenant_schemas SET cedarschema = $1, updated_at = $2 WHERE tenant_id = $3",
            )
            .bind(cedarschema)
            .bind(format_ts(&event.at))
            .bind(tenant.to_string())
            .execute(&mut **tx)
            .await?;
            Ok(Change::done(vec![(tenant, event)]))
        })
        .await
    }

    async fn insert_policy(
        &self,
        tenant: TenantId,
        revision: i64,
        policy: &Policy,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            insert_policy_row(tx, tenant, policy).await?;
            Ok(Change::versioned(vec![(tenant, event)]))
        })
        .await
    }

    async fn update_policy(
        &self,
        tenant: TenantId,
        revision: i64,
        policy: &Policy,
        expected_version: i64,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            if !update_policy_row(tx, tenant, policy, expected_version).await? {
                return Ok(Change::Refused(WriteOutcome::VersionConflict));
            }
            let cuts = cut_grants_to_policy_max(tx, tenant, policy, &event.actor, event.at).await?;
            let mut events = vec![(tenant, event)];
            events.extend(cuts);
            Ok(Change::versioned(events))
        })
        .await
    }

    async fn delete_policy(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Bump, async |tx| {
            let row = sqlx::query("SELECT version FROM policies WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut **tx)
                .await?;
            let Some(row) = row else {
                return Ok(Change::Refused(WriteOutcome::NotFound));
            };
            let version: i64 = row.try_get("version")?;
            if expected_version.is_some_and(|v| v != version) {
                return Ok(Change::Refused(WriteOutcome::VersionConflict));
            }
            let in_use = sqlx::query(
                "SELECT 1 FROM grants WHERE tenant_id = $1 AND policy_id = $2 \
                 AND status IN ('GRANTED', 'EXTENDED') AND expires_at > $3 LIMIT 1",
            )
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(format_ts(&now))
            .fetch_optional(&mut **tx)
            .await?;
            if in_use.is_some() {
                return Ok(Change::Refused(WriteOutcome::InUse));
            }
            sqlx::query("DELETE FROM policies WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?;
            Ok(Change::versioned(vec![(tenant, event)]))
        })
        .await
    }

    async fn get_policy(&self, tenant: TenantId, policy: &PolicyRef) -> Result<Option<Policy>> {
        let q = match policy {
            PolicyRef::Id(id) => {
                sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
            }
            PolicyRef::Key(k) => {
                sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 AND key = $2")
                    .bind(tenant.to_string())
                    .bind(k.clone())
            }
        };
        q.fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(policy_from_row)
            .transpose()
    }

    async fn list_policies(
        &self,
        tenant: TenantId,
        after: Option<uuid::Uuid>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Policy>, i64)> {
        let t = tenant.to_string();
        let rows = sqlx::query(
            "SELECT doc FROM policies WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) \
             ORDER BY id LIMIT $3 OFFSET $4",
        )
        .bind(&t)
        .bind(after.map(|a| a.to_string()))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM policies WHERE tenant_id = $1")
            .bind(&t)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok((
            rows.iter().map(policy_from_row).collect::<Result<_>>()?,
            total,
        ))
    }

    async fn all_policies(&self, tenant: TenantId) -> Result<Vec<Policy>> {
        let rows = sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(policy_from_row).collect()
    }

    async fn import(
        &self,
        tenant: TenantId,
        revision: i64,
        batch: ImportBatch,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            if let Some(schema) = &batch.cedarschema {
                sqlx::query("UPDATE tenant_schemas SET cedarschema = $1 WHERE tenant_id = $2")
                    .bind(schema)
                    .bind(tenant.to_string())
                    .execute(&mut **tx)
                    .await?;
            }
            for p in &batch.create {
                insert_policy_row(tx, tenant, p).await?;
            }
            for (p, expected) in &batch.update {
                if !update_policy_row(tx, tenant, p, *expected).await? {
                    return Ok(Change::Refused(WriteOutcome::VersionConflict));
                }
            }
            let mut cuts = Vec::new();
            if let Some(first) = batch.events.first() {
                for (p, _) in &batch.update {
                    cuts.extend(
                        cut_grants_to_policy_max(tx, tenant, p, &first.actor, first.at).await?,
                    );
                }
            }
            let mut events: Vec<(TenantId, NewEvent)> =
                batch.events.into_iter().map(|e| (tenant, e)).collect();
            events.extend(cuts);
            Ok(Change::versioned(events))
        })
        .await
    }

    async fn upsert_entities(
        &self,
        tenant: TenantId,
        revision: i64,
        rows: &[EntityRow],
        events: Vec<NewEvent>,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Expect(revision), async |tx| {
            let at = events.first().map(|e| format_ts(&e.at)).unwrap_or_default();
            for r in rows {
                sqlx::query(
                    "INSERT INTO entities (tenant_id, type, id, body, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant_id, type, id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                )
                .bind(tenant.to_string())
                .bind(&r.etype)
                .bind(&r.id)
                .bind(&r.body)
                .bind(&at)
                .execute(&mut **tx)
                .await?;
            }
            Ok(Change::done(events.into_iter().map(|e| (tenant, e)).collect()))
        })
        .await
    }

    async fn delete_entity(
        &self,
        tenant: TenantId,
        etype: &str,
        id: &str,
        event: NewEvent,
    ) -> Result<WriteOutcome> {
        self.config_write(tenant, Revision::Bump, async |tx| {
            let r =
                sqlx::query("DELETE FROM entities WHERE tenant_id = $1 AND type = $2 AND id = $3")
                    .bind(tenant.to_string())
                    .bind(etype)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            if r.rows_affected() == 0 {
                return Ok(Change::Refused(WriteOutcome::NotFound));
            }
            Ok(Change::done(vec![(tenant, event)]))
        })
        .await
    }

    async fn list_entities(
        &self,
        tenant: TenantId,
        etype: Option<&str>,
        after: Option<(String, String)>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<EntityRow>, i64)> {
        let t = tenant.to_string();
        let (after_type, after_id) = match after {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        let rows = sqlx::query(
            "SELECT type, id, body FROM entities WHERE tenant_id = $1 AND ($2 IS NULL OR type = $2) \
             AND ($3 IS NULL OR (type, id) > ($3, $4)) ORDER BY type, id LIMIT $5 OFFSET $6",
        )
        .bind(&t)
        .bind(etype)
        .bind(after_type)
        .bind(after_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM entities WHERE tenant_id = $1 AND ($2 IS NULL OR type = $2)",
        )
        .bind(&t)
        .bind(etype)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok((
            rows.iter().map(entity_from_row).collect::<Result<_>>()?,
            total,
        ))
    }

    async fn all_entities(&self, tenant: TenantId) -> Result<Vec<EntityRow>> {
        let rows = sqlx::query(
            "SELECT type, id, body FROM entities WHERE tenant_id = $1 ORDER BY type, id",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entity_from_row).collect()
    }

    async fn load_config(&self, tenant: TenantId) -> Result<TenantConfig> {
        let mut tx = self.pool.begin().await?;
        let t = tenant.to_string();
        let head = sqlx::query(
            "SELECT t.revision, s.cedarschema FROM tenants t \
             JOIN tenant_schemas s ON s.tenant_id = t.id WHERE t.id = $1",
        )
        .bind(&t)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("tenant"))?;
        let docs = sqlx::query("SELECT doc FROM policies WHERE tenant_id = $1 AND enabled = 1")
            .bind(&t)
            .fetch_all(&mut *tx)
            .await?;
        let entities = sqlx::query("SELECT type, id, body FROM entities WHERE tenant_id = $1")
            .bind(&t)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(TenantConfig {
            revision: head.try_get("revision")?,
            cedarschema: head.try_get("cedarschema")?,
            policies: docs.iter().map(policy_from_row).collect::<Result<_>>()?,
            entities: entities
                .iter()
                .map(entity_from_row)
                .collect::<Result<_>>()?,
        })
    }

    async fn policy_set_version(
        &self,
        tenant: TenantId,
        version: i64,
    ) -> Result<Option<PolicySetVersion>> {
        let t = tenant.to_string();
        let mut tx = self.pool.begin().await?;
        let revision: Option<i64> = sqlx::query("SELECT revision FROM tenants WHERE id = $1")
            .bind(&t)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("revision"))
            .transpose()?;
        if revision.is_none_or(|r| version > r) || version < 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT text, created_at FROM policy_set_versions WHERE tenant_id = $1 AND version <= $2 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(&t)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| {
            Ok(PolicySetVersion {
                version,
                text: r.try_get("text")?,
                created_at: ts_col(&r, "created_at")?,
            })
        })
        .transpose()
    }

    async fn change_marks(&self) -> Result<(Vec<(TenantId, i64)>, i64)> {
        let rows = sqlx::query("SELECT id, revision FROM tenants")
            .fetch_all(&self.pool)
            .await?;
        let mut marks = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            marks.push((
                id.parse().map_err(|_| corrupt("tenants.id"))?,
                r.try_get("revision")?,
            ));
        }
        let revoked: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NOT NULL")
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        Ok((marks, revoked))
    }

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
             revoke_reason, audit_session, notices, created_at, updated_at, version) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22, $23, $24, $25)",
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
        let r = sqlx::query(
            "UPDATE grants SET resource_type = $1, resource_id = $2, app = $3, scopes = $4, \
             status = $5, policy_id = $6, granted_by = $7, granted_at = $8, expires_at = $9, \
             extension_count = $10, revoked_at = $11, revoked_by = $12, revoke_reason = $13, \
             audit_session = $14, notices = $15, updated_at = $16, version = $17 \
             WHERE tenant_id = $18 AND id = $19 AND version = $20",
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
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
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

    async fn active_grants_on(
        &self,
        tenant: TenantId,
        principal: &EntityRef,
        resources: &[EntityRef],
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>> {
        if resources.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
            "SELECT {GRANT_COLUMNS} {GRANT_FROM} WHERE g.tenant_id = "
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
        q.push(")");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(grant_from_row).collect()
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
        let mut q =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!("SELECT {GRANT_COLUMNS} {GRANT_FROM}"));
        grant_sql::push_where(&mut q, &t, conds, &now);
        q.push(" AND g.status IN ('GRANTED', 'EXTENDED') AND g.expires_at > ")
            .push_bind(now_text.clone());
        if let Some(a) = after {
            q.push(" AND g.id > ").push_bind(a.to_string());
        }
        q.push(" ORDER BY g.id LIMIT ").push_bind(limit);
        let found = q
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(grant_from_row)
            .collect::<Result<Vec<_>>>()?;
        let last = found.last().map(|g| g.id);
        if found.is_empty() {
            return Ok((0, Vec::new(), None));
        }
        // revoke it as a writer: one short transaction of primary-key updates
        let mut tx = self.write_tx().await?;
        let mut events = Vec::with_capacity(found.len());
        let mut lost = Vec::new();
        for g in &found {
            let (next, event) = revoke(g);
            let r = sqlx::query(
                "UPDATE grants SET status = $1, revoked_at = $2, revoked_by = $3, \
                 revoke_reason = $4, updated_at = $5, version = $6 \
                 WHERE tenant_id = $7 AND id = $8 AND version = $9 \
                 AND status IN ('GRANTED', 'EXTENDED') AND expires_at > $10",
            )
            .bind(next.status.as_str())
            .bind(next.revoked_at.as_ref().map(format_ts))
            .bind(&next.revoked_by)
            .bind(&next.revoke_reason)
            .bind(format_ts(&next.updated_at))
            .bind(next.version)
            .bind(&t)
            .bind(g.id.to_string())
            .bind(g.version)
            .bind(&now_text)
            .execute(&mut *tx)
            .await?;
            // changed since it was found: the caller's next pass looks at it again
            if r.rows_affected() == 1 {
                events.push((tenant, event));
            } else {
                lost.push(g.id);
            }
        }
        let n = events.len();
        if n > 0 {
            append_in_tx(&mut tx, events).await?;
        }
        tx.commit().await?;
        Ok((n, lost, last))
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
        let due: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM grants WHERE status IN ('GRANTED', 'EXTENDED') \
             AND expires_at <= $1)",
        )
        .bind(format_ts(&now))
        .fetch_one(&self.pool)
        .await?;
        if !due {
            return Ok(0);
        }
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(&format!(
            "SELECT g.tenant_id AS tenant, {GRANT_COLUMNS} {GRANT_FROM} \
             WHERE g.status IN ('GRANTED', 'EXTENDED') AND g.expires_at <= $1 \
             ORDER BY g.expires_at LIMIT $2"
        ))
        .bind(format_ts(&now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let tenant: String = row.try_get("tenant")?;
            let tenant: TenantId = tenant.parse().map_err(|_| corrupt("grants.tenant_id"))?;
            let mut g = grant_from_row(row)?;
            let expected = g.version;
            g.status = GrantStatus::Expired;
            g.version += 1;
            g.updated_at = now;
            sqlx::query(
                "UPDATE grants SET status = 'EXPIRED', version = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND id = $4 AND version = $5",
            )
            .bind(g.version)
            .bind(format_ts(&now))
            .bind(tenant.to_string())
            .bind(g.id.to_string())
            .bind(expected)
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
    ) -> Result<InsertOutcome> {
        let mut tx = self.write_tx().await?;
        let outcome = match claim_idempotency(&mut tx, tenant, record).await? {
            Some(existing) => InsertOutcome::Replay(existing),
            None => InsertOutcome::Done,
        };
        tx.commit().await?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::SqliteStore;
    use crate::audit::AuditWriter;
    use crate::domain::audit::{Actor, EventKind, NewEvent, Subject};
    use crate::store::{DynStore, EventFilter, Store};
    use std::sync::Arc;

    fn event(n: usize) -> NewEvent {
        NewEvent::new(
            chrono::Utc::now(),
            Actor::cli(),
            EventKind::Authorize,
            Subject::new("principal", format!("User::\"u{n}\"")),
        )
    }

    /// A tenant and its chain's head at `seq`, for placing events without a store.
    fn one_head(
        seq: i64,
    ) -> (
        crate::domain::ids::TenantId,
        std::collections::HashMap<crate::domain::ids::TenantId, super::Head>,
    ) {
        let tenant = crate::domain::ids::TenantId::new();
        let head = (seq, crate::domain::audit::GENESIS_HASH.to_string(), None);
        (tenant, std::collections::HashMap::from([(tenant, head)]))
    }

    /// An event rendered and then changed would store a body that disagrees with its
    /// columns; debug builds (every test run) refuse to place it.
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "rendered parts out of date")]
    fn a_stale_rendering_is_refused() {
        let (tenant, mut heads) = one_head(0);
        let mut e = event(1).render();
        e.decision = Some("allow".into());
        super::place_events(&mut heads, vec![(tenant, e)]);
    }

    #[test]
    fn a_rendered_event_is_placed_with_its_parts() {
        let (tenant, mut heads) = one_head(4);
        let mut e = event(1);
        e.decision = Some("allow".into());
        let placed = super::place_events(&mut heads, vec![(tenant, e.render())]);
        let p = &placed[0];
        assert_eq!(p.event.content.seq, 5);
        assert_eq!(p.body, p.event.content.canonical());
        assert!(p.body.contains(r#""decision":"allow""#));
    }

    /// A failed journal write (the disk refused it) fails its batch and acknowledges none
    /// of it; the next batch is journaled again (no restart needed) and continues the
    /// chain where the acknowledged events left it, without a gap; writes audited in
    /// SQLite go on from the true head, and a restart continues that chain without the
    /// failed events.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_failed_journal_write_acknowledges_nothing_and_the_next_batch_heals() {
        let dir = tempfile::tempdir().unwrap();
        let (concrete, tid, url) = owning_store_with_tenant(dir.path()).await;
        let store: DynStore = concrete.clone();
        let (audit, writer) = AuditWriter::spawn(store.clone(), 64, 16);
        for i in 0..3 {
            audit.append(tid, event(i)).await.unwrap();
        }
        let appender = concrete
            .appender
            .clone()
            .expect("the store owns the journal");
        {
            let mut chain = appender.chain.lock().await;
            let active = chain.active;
            chain.journals[active].fail_next = true;
        }
        let failed = audit.append(tid, event(3)).await;
        assert!(
            matches!(failed, Err(crate::error::Error::Unavailable(_))),
            "{failed:?}"
        );
        assert!(appender.chain.lock().await.journal_failed.is_some());
        assert!(
            matches!(
                store.probe_write().await,
                Err(crate::error::Error::Unavailable(_))
            ),
            "readiness reports the failed journal"
        );
        // The next batch is journaled: the writer did not switch off.
        let healed = audit.append(tid, event(4)).await.unwrap();
        assert_eq!(healed.seq, 5, "the key event and three decisions before it");
        assert!(appender.chain.lock().await.journal_failed.is_none());
        store.probe_write().await.unwrap();
        // A write audited in SQLite itself commits, on the chain's true head.
        crate::service::keys::create(
            &store,
            tid,
            Actor::cli(),
            crate::domain::role::Role::Auditor,
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let rep = store.verify_chain(tid).await.unwrap();
        assert!(rep.ok, "{rep:?}");
        assert_eq!(
            rep.events, 6,
            "two key events and the four acknowledged decisions"
        );
        drop(audit);
        writer.await.unwrap();
        store.close().await;
        drop((store, concrete, appender));

        let store = crate::store::open_serving(&url).await.unwrap();
        let (audit, writer) = AuditWriter::spawn(store.clone(), 64, 16);
        let next = audit.append(tid, event(5)).await.unwrap();
        assert_eq!(next.seq, 7);
        let rep = store.verify_chain(tid).await.unwrap();
        assert!(rep.ok, "{rep:?}");
        assert_eq!(rep.events, 7);
        let listed = store
            .list_events(tid, &EventFilter::default(), None, 100)
            .await
            .unwrap();
        let subjects: Vec<String> = listed
            .iter()
            .map(|e| e.content.subject.id.clone())
            .collect();
        assert!(
            !subjects.iter().any(|s| s == "User::\"u3\""),
            "{subjects:?}"
        );
        assert!(subjects.iter().any(|s| s == "User::\"u4\""), "{subjects:?}");
        drop(audit);
        writer.await.unwrap();
        store.close().await;
    }

    /// A write transaction whose commit failed leaves the chain uncertain: no decision is
    /// acknowledged until a later write commits, and the writer's own synced write settles
    /// it when nothing else writes.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_uncertain_commit_stops_decisions_until_a_later_write_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (concrete, tid, _url) = owning_store_with_tenant(dir.path()).await;
        let store: DynStore = concrete.clone();
        let (audit, writer) = AuditWriter::spawn(store.clone(), 64, 16);
        audit.append(tid, event(0)).await.unwrap();
        let appender = concrete.appender.clone().unwrap();
        appender.chain.lock().await.uncertain = true;
        // The writer settles it with a write of its own, then journals the batch.
        let next = audit.append(tid, event(1)).await.unwrap();
        assert_eq!(next.seq, 3);
        assert!(!appender.chain.lock().await.uncertain);
        // While another connection holds SQLite's write lock, the writer cannot settle it
        // and refuses the batch instead of waiting behind the lock.
        appender.chain.lock().await.uncertain = true;
        let mut other = rusqlite::Connection::open(dir.path().join("grantd.db")).unwrap();
        let hold = other
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let refused = audit.append(tid, event(2)).await;
        assert!(
            matches!(refused, Err(crate::error::Error::Unavailable(_))),
            "{refused:?}"
        );
        hold.rollback().unwrap();
        let next = audit.append(tid, event(3)).await.unwrap();
        assert_eq!(next.seq, 4);
        let rep = store.verify_chain(tid).await.unwrap();
        assert!(rep.ok, "{rep:?}");
        drop(audit);
        writer.await.unwrap();
        store.close().await;
    }

    /// A store on a new database file with one tenant: the store, the tenant and the URL.
    async fn owning_store_with_tenant(
        dir: &std::path::Path,
    ) -> (Arc<SqliteStore>, crate::domain::ids::TenantId, String) {
        let url = format!("sqlite://{}", dir.join("grantd.db").display());
        let store = Arc::new(SqliteStore::connect_owning(&url).await.unwrap());
        store.migrate().await.unwrap();
        let dynamic: DynStore = store.clone();
        let schema =
            crate::service::tenants::load_default_schema(std::path::Path::new("policies")).unwrap();
        let (tid, _) = crate::service::tenants::create(&dynamic, "t", schema, chrono::Utc::now())
            .await
            .unwrap();
        (store, tid, url)
    }

    #[tokio::test]
    async fn a_new_database_has_16_kib_pages() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, _) = owning_store_with_tenant(dir.path()).await;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(size, i64::from(super::PAGE_SIZE));
        assert_eq!(size, 16384);
        store.close().await;
    }

    /// The scheduling policy (`/proc` stat field 41) of every thread of this process with
    /// the given name.
    #[cfg(target_os = "linux")]
    fn thread_policies(name: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
                continue; // the thread ended meanwhile
            };
            // Fields after the `(comm)` one start at field 3 (state); policy is field 41.
            let rest = &stat[stat.rfind(')').unwrap() + 1..];
            out.push(
                rest.split_whitespace()
                    .nth(41 - 3)
                    .unwrap()
                    .parse()
                    .unwrap(),
            );
        }
        out
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_decision_flusher_runs_at_idle_priority() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, _) = owning_store_with_tenant(dir.path()).await;
        // The thread lowers itself as it starts.
        let mut policies = thread_policies("grantd-flush");
        for _ in 0..100 {
            if !policies.is_empty() && policies.iter().all(|p| *p == libc::SCHED_IDLE as u32) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            policies = thread_policies("grantd-flush");
        }
        assert!(!policies.is_empty(), "no flusher thread");
        assert!(
            policies.iter().all(|p| *p == libc::SCHED_IDLE as u32),
            "{policies:?}"
        );
        store.close().await;
    }

    /// `n` events of `tenant` numbered from `from`, as a batch for the appender.
    fn batch(
        tenant: crate::domain::ids::TenantId,
        from: usize,
        n: usize,
    ) -> Vec<(crate::domain::ids::TenantId, NewEvent)> {
        (from..from + n).map(|i| (tenant, event(i))).collect()
    }

    /// A store whose journal backlog is full: another connection holds SQLite's write lock,
    /// so the flusher cannot move a thing, and events were appended until one file is in the
    /// flusher's hands and `MAX_BACKLOG` events wait in the other.
    struct FullBacklog {
        _dir: tempfile::TempDir,
        store: Arc<SqliteStore>,
        tid: crate::domain::ids::TenantId,
        appender: Arc<super::super::sqlite_appender::Appender>,
        /// The events stored before the backlog was filled.
        before: usize,
        /// The events appended to fill it.
        filled: usize,
        /// The connection holding SQLite's write lock, until `release`.
        blocker: Option<rusqlite::Connection>,
    }

    impl FullBacklog {
        async fn new() -> FullBacklog {
            use super::super::sqlite_appender::{FLUSH_AT, MAX_BACKLOG};
            use crate::audit::BlockingAppend;
            let dir = tempfile::tempdir().unwrap();
            let (store, tid, _) = owning_store_with_tenant(dir.path()).await;
            let appender = store.appender.clone().expect("the store owns the journal");
            let before = store.verify_chain(tid).await.unwrap().events as usize;
            let blocker = rusqlite::Connection::open(dir.path().join("grantd.db")).unwrap();
            blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
            let a = appender.clone();
            let filled = tokio::task::spawn_blocking(move || {
                // The last batch goes without the housekeeping that would wait.
                let mut n = 0;
                while n < FLUSH_AT + MAX_BACKLOG {
                    a.append_blocking(batch(tid, n, 1024)).unwrap();
                    n += 1024;
                    if n < FLUSH_AT + MAX_BACKLOG {
                        a.after_batch();
                    }
                }
                n
            })
            .await
            .unwrap();
            {
                let chain = appender.chain.lock().await;
                assert!(chain.inflight.is_some(), "the flusher holds a file");
                assert!(
                    chain.pending.len() >= MAX_BACKLOG,
                    "{}",
                    chain.pending.len()
                );
            }
            FullBacklog {
                _dir: dir,
                store,
                tid,
                appender,
                before,
                filled,
                blocker: Some(blocker),
            }
        }

        /// Lets the flusher write SQLite again.
        fn release(&mut self) {
            let blocker = self.blocker.take().expect("released once");
            blocker.execute_batch("ROLLBACK").unwrap();
        }

        /// Checks that the chain verifies and holds the filling events and `more` after
        /// them, then closes the store.
        async fn assert_stored_with(self, more: usize) {
            let rep = self.store.verify_chain(self.tid).await.unwrap();
            assert!(rep.ok, "{rep:?}");
            assert_eq!(
                rep.events as usize,
                self.before + self.filled + more,
                "{rep:?}"
            );
            self.store.close().await;
        }
    }

    /// The flusher yields the CPU to everything else, so the backlog of journaled events it
    /// has not moved is bounded: with a file in its hands and `MAX_BACKLOG` in the other,
    /// the audit writer waits for it before it takes another batch; once the flusher can
    /// move again, the writer goes on and nothing is lost.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_full_backlog_waits_for_the_flusher() {
        use crate::audit::BlockingAppend;
        let mut full = FullBacklog::new().await;
        let (a, tid, filled) = (full.appender.clone(), full.tid, full.filled);
        let next = std::thread::spawn(move || {
            a.append_blocking(batch(tid, filled, 1)).unwrap();
            a.after_batch();
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            !next.is_finished(),
            "the writer went on past a full backlog"
        );
        full.release();
        tokio::task::spawn_blocking(move || next.join().unwrap())
            .await
            .unwrap();
        full.assert_stored_with(1).await;
    }

    /// A flusher that cannot move anything for `STALL_AFTER` while the backlog is full
    /// (another process holds SQLite's write lock) does not hang decisions: the writer stops
    /// waiting, and batches are refused as unavailable (503) until it moves again; a refused
    /// batch is not stored, and afterwards appends go on where the chain left off.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_stalled_flusher_gets_batches_refused_not_hung() {
        use super::super::sqlite_appender::STALL_AFTER;
        use crate::audit::BlockingAppend;
        use crate::error::Error;
        let mut full = FullBacklog::new().await;
        let (appender, tid, filled) = (full.appender.clone(), full.tid, full.filled);
        // The next batch is taken (the flusher has not been stuck for long yet); the writer
        // then waits for the flusher, but not past STALL_AFTER.
        let a = appender.clone();
        let (done, waited) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            a.append_blocking(batch(tid, filled, 1)).unwrap();
            a.after_batch();
            let _ = done.send(());
        });
        waited
            .recv_timeout(STALL_AFTER * 10)
            .expect("the writer still waits for a stalled flusher");
        assert!(appender.chain.lock().await.stalled());
        let a = appender.clone();
        let refused = tokio::task::spawn_blocking(move || a.append_blocking(batch(tid, 0, 1)))
            .await
            .unwrap();
        assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
        // SQLite can be written again: the flusher finishes its file and appends go on.
        full.release();
        let mut waited = std::time::Duration::ZERO;
        while appender.chain.lock().await.inflight.is_some() {
            assert!(waited < STALL_AFTER * 10, "the flusher did not resume");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            waited += std::time::Duration::from_millis(10);
        }
        let a = appender.clone();
        tokio::task::spawn_blocking(move || {
            a.append_blocking(batch(tid, filled + 1, 1)).unwrap();
            a.after_batch();
        })
        .await
        .unwrap();
        full.assert_stored_with(2).await;
    }
}
