//! The SQLite backend: WAL, foreign keys on, a busy timeout, and `BEGIN IMMEDIATE` for every
//! write so writers queue on SQLite's lock instead of failing half-way through.
//!
//! This module holds the connection, write transactions (`write_tx`, which also inserts
//! journaled decision events), readiness and the shared row helpers; each aggregate's
//! trait implementation is in its own file: `tenants` (tenants and keys), `config`
//! (schema, policies, entities, versions), `grants` (with `grant_sql`, the list filters'
//! SQL) and `audit`. The decision journal (`journal`) and its writer and flusher
//! (`appender`) are this backend's own, as is the error classification (`errors`).

mod appender;
mod audit;
mod backup;
mod config;
pub(crate) mod errors;
mod grant_sql;
mod grants;
pub(crate) mod journal;
mod reevaluations;
mod tenants;
mod webhooks;

pub use backup::BackupReport;

use grants::{cut_grants_to_policy_max, write_grant};

use super::{
    AuditStore, Commit, CommitListener, ConfigSnapshot, ConfigStore, DynStore, EntityRow,
    EventFilter, GrantStore, IdempotencyRecord, ImportBatch, InsertOutcome, KeyRecord, NewTenant,
    PolicySetVersion, ReevaluationStore, Store, TenantConfig, TenantStore, WriteOutcome,
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
use appender::{last_rows, Chain};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use journal::Row as JRow;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// An online, consistent copy of the database at `url` (which must exist; it is neither
/// created nor migrated) into `dest` (see `backup`), holding every decision event
/// acknowledged before it was taken.
pub async fn backup_url(url: &str, dest: &std::path::Path) -> Result<BackupReport> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::invalid(format!("invalid SQLite URL: {e}")))?;
    let db = opts.get_filename().to_path_buf();
    if in_memory(&db) {
        return Err(Error::invalid("an in-memory database cannot be backed up"));
    }
    let journal = journal::Journal::path_for(&db);
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || backup::backup(&db, Some(&journal), &dest))
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("backup task failed: {e}")))?
}

/// Whether a URL's file name stands for an in-memory database (no file, no journal).
fn in_memory(file: &std::path::Path) -> bool {
    file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:")
}

pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes a reset WAL is cut back to (SQLite's `journal_size_limit`; see `connect_with`).
pub(super) const WAL_SIZE_LIMIT: u64 = 32 << 20;

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
    appender: Option<Arc<appender::Appender>>,
    /// The decision journal's path, for a database file; a store without the appender
    /// inserts its records before each write (see `write_tx`).
    journal: Option<std::path::PathBuf>,
    /// The database file (absent in memory), for the readiness probe's file write.
    file: Option<std::path::PathBuf>,
    listener: std::sync::OnceLock<CommitListener>,
    /// The upkeep task of a server's store (see `start_upkeep`).
    upkeep: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// This process's write transactions, one at a time, first come first served (see
    /// `write_tx`).
    writers: Arc<tokio::sync::Mutex<()>>,
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
    ///
    /// `GRANTD_SQLITE_DECISION_JOURNAL=off` makes the server commit each batch of decision
    /// events as one SQLite transaction instead: the A/B switch of the journal's
    /// measurement (`benches/README.md`), not a setting for production.
    pub async fn connect_owning(url: &str) -> Result<Self> {
        let journal = std::env::var("GRANTD_SQLITE_DECISION_JOURNAL").map_or(true, |v| v != "off");
        Self::connect_with(url, journal).await
    }

    async fn connect_with(url: &str, own: bool) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            // 16 KiB pages for a new database (an existing one keeps its page size; see
            // `PAGE_SIZE`). Set before the journal mode, which fixes it.
            .page_size(PAGE_SIZE)
            .journal_mode(SqliteJournalMode::Wal)
            // After a checkpoint resets the WAL, a WAL grown past this (a burst, or a
            // checkpoint held off while the disk was full) is cut back to it, so the space
            // returns to the file system.
            .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string())
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
            // A transaction dropped without commit queues a rollback, so a count still open
            // is checked again after a ping (which runs after that rollback); still open
            // then, the connection is out of step: close it. The common case (no
            // transaction open) costs no round trip to the connection's thread.
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::Connection;
                    if !conn.is_in_transaction() {
                        return Ok(true);
                    }
                    conn.ping().await?;
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| Error::Unavailable(e.into()))?;
        let in_memory = in_memory(&file);
        let journal = (!in_memory).then(|| journal::Journal::path_for(&file));
        let owner = match &journal {
            Some(j) if own => journal::try_own(j)?,
            _ => None,
        };
        let appender = match owner {
            Some(owner) => Some(Arc::new(appender::Appender::open(
                &file,
                BUSY_TIMEOUT,
                owner,
            )?)),
            None => None,
        };
        Ok(SqliteStore {
            pool,
            writers: Arc::new(tokio::sync::Mutex::new(())),
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

    fn committed(&self, c: Commit) {
        if let Some(l) = self.listener.get() {
            l(c);
        }
    }

    /// A connection, then this process's turn to write, then `BEGIN IMMEDIATE` on it. The
    /// connection is taken first so that its acquisition (with its liveness check) is not
    /// part of the turn every writer waits for. Keep the turn until the transaction ends.
    /// Used as it is by writes that do not touch the audit chain (the webhook outbox), which
    /// so take no chain lock: the decision journal's writer never waits for them.
    pub(super) async fn begin_immediate(
        &self,
    ) -> Result<(
        tokio::sync::OwnedMutexGuard<()>,
        sqlx::Transaction<'static, sqlx::Sqlite>,
    )> {
        let conn = self.pool.acquire().await?;
        let turn = self.writer_turn().await?;
        let tx = sqlx::Transaction::begin(conn, Some("BEGIN IMMEDIATE".into())).await?;
        Ok((turn, tx))
    }

    /// This process's turn to write. Waited for as long as SQLite's busy timeout, as the
    /// lock itself was: past it the write is refused as unavailable (503), not queued on.
    async fn writer_turn(&self) -> Result<tokio::sync::OwnedMutexGuard<()>> {
        tokio::time::timeout(BUSY_TIMEOUT, self.writers.clone().lock_owned())
            .await
            .map_err(|_| {
                Error::Unavailable(anyhow::anyhow!(
                    "the database is busy: no turn to write within {} s",
                    BUSY_TIMEOUT.as_secs()
                ))
            })
    }

    /// A write transaction: `BEGIN IMMEDIATE`, then the chain lock (see `appender`),
    /// then the journaled decision events not stored yet inserted, so the transaction reads
    /// the true chain heads. The owner takes them from memory; another store reads them
    /// from the journal file under the journal's file lock, held until the transaction ends.
    async fn write_tx(&self) -> Result<WriteTx> {
        self.write_tx_moving(true).await
    }

    /// [`SqliteStore::write_tx`]; `move_journal: false` leaves the journaled events where
    /// they are (the readiness probe, which must stay small).
    async fn write_tx_moving(&self, move_journal: bool) -> Result<WriteTx> {
        // This process's writers take turns, in order, before `BEGIN IMMEDIATE`: waiting
        // for SQLite's lock there is its busy handler's sleeps (up to 100 ms each), which
        // let later writers in first; under 32 concurrent grant requests some waited 0.6 s
        // at p99 and over 2 s at p99.9 (benches/latency.sh).
        // Other processes (the CLI) and the journal's flusher still meet SQLite's lock.
        let (turn, mut tx) = self.begin_immediate().await?;
        // SQLite's lock first, then the chain lock: the audit writer takes the chain lock
        // without SQLite's (to journal) or tries SQLite's without waiting (to move the
        // journal), so no one waits for SQLite's lock while holding the chain's.
        let chain = match &self.appender {
            Some(a) => Some(a.chain.clone().lock_owned().await),
            None => None,
        };
        let foreign = match (&chain, &self.journal) {
            (None, Some(path)) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || journal::lock_and_read(&path))
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
            let take: Vec<&JRow> =
                journal::continuing(rows.iter().copied(), heads, journal::Source::File);
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
            _turn: turn,
        })
    }

    /// Moves journaled decision events into `audit_events` (see `appender`), so a
    /// read that starts after an event was acknowledged finds it there. Nearly free when
    /// the journal is empty.
    async fn flush_journal(&self) -> Result<()> {
        let pending = match (&self.appender, &self.journal) {
            (Some(a), _) => !a.chain.lock().await.unstored().is_empty(),
            (None, Some(path)) => journal::has_records(path),
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
    /// This process's turn to write, given back when the transaction ends (after the
    /// commit or rollback: fields drop after the transaction, in declaration order).
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        // `_journal_lock` (a named binding) stays locked until the commit is done.
        let WriteTx {
            tx,
            chain,
            flushed,
            _journal_lock,
            _turn,
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
                    static LOG: crate::throttle::LogThrottle =
                        crate::throttle::LogThrottle::new(Duration::from_secs(10));
                    if let Some(n) = LOG.admit() {
                        tracing::error!(error = ?e, earlier_not_logged = n, "a write transaction's commit failed; decisions wait for the next write to commit");
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
    let appended = super::appended(placed)?;
    // the outbox rows of the grant events, in the same transaction (whether the tenant has
    // webhooks is read there: in-process, it costs a lookup)
    let notify = super::to_notify(&appended, |_| true);
    if !notify.is_empty() {
        webhooks::enqueue(conn, &notify).await?;
    }
    Ok(appended.into_iter().map(|(_, e)| e).collect())
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
        sqlx::query(appender::PROBE_SQL)
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
}

#[cfg(test)]
mod tests;
