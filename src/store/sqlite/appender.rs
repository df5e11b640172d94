//! The SQLite store's decision-event appender: the audit writer's thread makes each
//! group-committed batch of decision events durable in the decision journal (`journal`:
//! one `pwrite` and one `fdatasync`) and moves them into `audit_events` in bulk, on a
//! connection of its own, every `FLUSH_AT` events.
//!
//! Decision events are the hottest write grantd makes (one per authorize call), and the
//! writer is the one serial step every decision waits for. Through the async pool every
//! statement was a hand-off to a connection's worker thread and back; committing each batch
//! in SQLite, even into an unindexed inbox (migration 0011), cost page writes to the WAL,
//! lock calls, a page-cache walk in `fsync` and a checkpoint per batch. Now a batch costs a
//! write and a data sync, and the B-tree work is done once per few thousand events.
//!
//! The chain stays one chain whoever appends. Mutations append their own events inside
//! their own transactions through the pool, reading the tenant's head from `audit_heads`;
//! journaled events are not there yet. So every writer of the chain holds the [`Chain`]
//! lock: the audit writer while it places and journals a batch or moves the journal into
//! SQLite, and every pool write transaction (`SqliteStore::write_tx`) from just after its
//! `BEGIN IMMEDIATE` until it ends. A write transaction first inserts the journaled events
//! not stored yet (and their heads), so it reads the true heads; when it commits, the
//! journal is empty and the writer's cached heads are dropped (the mutation may have moved
//! them). If it rolls back, the events are still journaled and pending. Reads of the log
//! flush the journal first (a write transaction with nothing else in it), so a read finds
//! every acknowledged event.
//!
//! Other processes on the same file (the CLI: `grantd key revoke` while the server runs)
//! cannot see this process's memory. Their write transactions take an exclusive lock on the
//! journal file after `BEGIN IMMEDIATE` and insert the records that continue the stored
//! chains; the writer takes the same file lock to place and journal each batch, and reads
//! its heads again whenever SQLite's `data_version` says another connection committed.
//!
//! Lock order, so no two wait on each other: this process's writer turn (taken by every
//! pool write transaction before `BEGIN IMMEDIATE`, see `SqliteStore::write_tx`), SQLite's
//! write lock, then the chain lock, then the journal file's lock. The writer takes the chain lock and the file lock without
//! SQLite's, and moves the journal only if SQLite's lock is free at once.
//!
//! At start, `migrate` replays the journal: records that continue their tenant's stored
//! chain are inserted; the rest were moved before and are skipped.

use super::journal::{continuing, Journal, Row, Source};
use super::{corrupt, AUDIT_INSERT, BUSY_TIMEOUT};
use crate::audit::BlockingAppend;
use crate::clock::{format_ts, parse_ts};
use crate::domain::audit::{place_events, ChainHead as Head, Placed};
use crate::domain::audit::{Appended, AuditEvent, NewEvent};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The state every appender of the chain shares, behind one lock (see the module docs).
pub(crate) struct Chain {
    /// The journal's two files: the writer appends to `journals[active]`; the other is
    /// empty or holds `inflight`.
    pub journals: [Journal; 2],
    pub active: usize,
    /// Journaled events (in `journals[active]`) not yet in SQLite, in append order.
    pub pending: Vec<Row>,
    /// Journaled events (in the other file) the flusher thread is moving into SQLite.
    pub inflight: Option<Arc<Vec<Row>>>,
    /// The audit writer's heads: SQLite's, advanced by `inflight` and `pending`. Valid
    /// while only the writer has appended since they were read; cleared when another
    /// connection commits.
    pub heads: HashMap<TenantId, Head>,
    /// Records found in the journal at open, for `migrate` to replay.
    pub found: Vec<Row>,
    /// SQLite's `data_version` as the writer's connection last saw it: when another
    /// connection or process commits, it changes and the writer's heads are read again.
    pub seen_version: i64,
    /// When an append to the journal last failed (the disk refused or is full), until one
    /// succeeds. A failed append acknowledges nothing and leaves `end` where it was, so the
    /// next append writes over whatever part of it reached the file (see
    /// [`Journal::append`]): appends go on, and readiness reports the failure meanwhile.
    pub journal_failed: Option<Instant>,
    /// Set when a write transaction's commit failed: SQLite may have left its frames in
    /// the WAL, where recovery after a crash could find them, and appending on heads that
    /// ignore them could fork a chain. A later synced commit overwrites them for good, so
    /// the next one that succeeds (any write transaction, the readiness probe, or the
    /// writer's own try in [`Appender::append_with`]) clears this; until then no decision
    /// is acknowledged.
    pub uncertain: bool,
    /// When the flusher last made progress: was handed a file, or committed a transaction
    /// of its events (see [`Chain::stalled`]).
    pub moved_at: Instant,
    /// Whether the flusher's last attempt to move events failed (it retries with backoff).
    pub flush_failed: bool,
}

impl Chain {
    /// Whether the backlog is full (see [`MAX_BACKLOG`]) and the flusher cannot move it:
    /// its last attempt failed (the disk refuses, or SQLite's write lock stayed held past
    /// the busy timeout), or it has moved nothing for [`STALL_AFTER`]. Appends are then
    /// refused rather than left waiting.
    pub fn stalled(&self) -> bool {
        self.inflight.is_some()
            && self.pending.len() >= MAX_BACKLOG
            && (self.flush_failed || self.moved_at.elapsed() >= STALL_AFTER)
    }

    /// Every journaled event not known to be in SQLite, oldest first.
    pub fn unstored(&self) -> Vec<&Row> {
        let mut out: Vec<&Row> = self.inflight.iter().flat_map(|v| v.iter()).collect();
        out.extend(self.pending.iter());
        out
    }

    /// After a transaction on another connection committed: `flushed` says whether it
    /// inserted every journaled event.
    pub fn committed(&mut self, flushed: bool) {
        self.heads.clear();
        if flushed {
            self.pending.clear();
            let mut reset = vec![self.active];
            if self.inflight.is_none() {
                reset.push(1 - self.active);
            }
            for i in reset {
                if let Err(e) = self.journals[i].reset() {
                    // The records stay; replay skips them, as they are in SQLite.
                    tracing::warn!(error = ?e, "resetting the decision journal failed");
                }
            }
        }
    }
}

/// The appender: its connection, and the chain state shared with the store. It exists in
/// the one process that owns the journal (`journal::try_own`); other processes on the same
/// file (the CLI) insert the journal's records themselves under the chain lock before they
/// write (`SqliteStore::write_tx`).
pub(crate) struct Appender {
    conn: Mutex<Option<Connection>>,
    pub chain: Arc<tokio::sync::Mutex<Chain>>,
    /// The ownership lock, held until `close`.
    owner: Mutex<Option<std::fs::File>>,
    /// Hands full journal files to the flusher thread; dropped at `close`, which ends it.
    flusher: Mutex<Option<std::sync::mpsc::Sender<FullFile>>>,
    /// The flusher thread, to tell whether it still runs (see `after_batch`).
    flusher_thread: std::thread::JoinHandle<()>,
    /// SQLite's busy timeout for this connection, restored after [`settle_uncertain`].
    busy_timeout: Duration,
}

/// A full journal file for the flusher: its index and its events.
type FullFile = (usize, Arc<Vec<Row>>);

/// Journaled events at which the writer switches journal files and hands the full one to
/// the flusher thread, which moves its events into `audit_events`. Larger moves spread the
/// index writes over more events; a move holds SQLite's write lock for a few milliseconds.
pub(crate) const FLUSH_AT: usize = 2048;

/// Events the flusher moves per SQLite transaction. It runs at idle priority (see
/// [`run_flusher`]), so on CPUs kept busy by other work it can be preempted while it holds
/// SQLite's write lock, and a writer then waits behind it. A transaction of this many rows
/// is about 4 ms of CPU: at the share `SCHED_IDLE` gets beside one busy thread (3/1027)
/// that is ~1.3 s, inside the 5 s busy timeout. The price: each commit writes the tail
/// pages of the table and its indexes again; the flusher's CPU per event rose from ~7.5–8.1
/// µs (one transaction per file) to ~8.9 µs in the A/B runs of 2026-12-06.
pub(crate) const FLUSH_CHUNK: usize = 512;

/// Journaled events not yet moved at which the audit writer stops taking batches until
/// the flusher has finished the file it holds. The flusher yields the CPU to everything
/// else, so under a load that keeps both CPUs busy it falls behind; waiting here (the
/// writer's queue fills, and decisions wait for their acknowledgements) leaves it the
/// CPU, and bounds the journal's memory and files.
pub(crate) const MAX_BACKLOG: usize = 4 * FLUSH_AT;

/// How long the flusher may go without moving anything while the backlog is full before
/// the writer stops waiting for it and refuses batches (`503 unavailable`) until it moves
/// again: a decision that cannot be audited is answered with an error, not left hanging.
/// Twice SQLite's busy timeout (10 s), so a flusher that waited once for the write lock
/// and then committed is not taken for stalled. (Two seconds in this crate's unit tests.)
pub(crate) const STALL_AFTER: Duration = if cfg!(test) {
    Duration::from_secs(2)
} else {
    BUSY_TIMEOUT.saturating_mul(2)
};

pub(super) fn open_conn(path: &Path, busy_timeout: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    // The same settings as the pool's connections (see `SqliteStore::connect`).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "journal_size_limit", super::WAL_SIZE_LIMIT as i64)?;
    Ok(conn)
}

impl Appender {
    /// Opens the appender's connection to the database file at `path`, the decision
    /// journal beside it, and the flusher thread with a connection of its own.
    pub fn open(path: &Path, busy_timeout: Duration, owner: std::fs::File) -> Result<Self> {
        let conn = open_conn(path, busy_timeout)?;
        let first = Journal::path_for(path);
        let (j0, mut found) = Journal::open(&first)?;
        let (j1, found1) = Journal::open(&Journal::second_path(&first))?;
        found.extend(found1);
        super::journal::in_chain_order(&mut found);
        // Appends go to the file with fewer records; the other is reset once `migrate`
        // has replayed both.
        let active = usize::from(j1.len() < j0.len());
        let seen_version = data_version(&conn)?;
        let chain = Arc::new(tokio::sync::Mutex::new(Chain {
            journals: [j0, j1],
            active,
            pending: Vec::new(),
            inflight: None,
            heads: HashMap::new(),
            found,
            seen_version,
            journal_failed: None,
            uncertain: false,
            moved_at: Instant::now(),
            flush_failed: false,
        }));
        let flush_conn = open_conn(path, busy_timeout)?;
        let (tx, rx) = std::sync::mpsc::channel::<FullFile>();
        let for_flusher = chain.clone();
        let flusher_thread = std::thread::Builder::new()
            .name("grantd-flush".into())
            .spawn(move || run_flusher(flush_conn, rx, for_flusher))
            .map_err(|e| Error::internal(anyhow::anyhow!("could not start the flusher: {e}")))?;
        Ok(Appender {
            conn: Mutex::new(Some(conn)),
            chain,
            owner: Mutex::new(Some(owner)),
            flusher: Mutex::new(Some(tx)),
            flusher_thread,
            busy_timeout,
        })
    }

    /// Closes the connection and ends the flusher; later appends fail as unavailable.
    pub fn close(&self) {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.flusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.owner.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// The flusher thread: moves each full journal file's events into `audit_events` (those
/// not stored yet), [`FLUSH_CHUNK`] to a transaction, then empties the file and clears
/// `inflight`. A failed move is retried; meanwhile the writer keeps appending to the other
/// file (up to [`MAX_BACKLOG`]), and write transactions insert the events themselves.
///
/// The thread runs at idle priority (`SCHED_IDLE` on Linux): its work is never urgent,
/// as every event it moves is already durable in the journal and every read or write of
/// the log moves what is left first. At normal priority it took CPU from the request
/// workers and the audit writer, whom every decision waits for; at idle priority it runs
/// when they have nothing to do. Measured with `benches/load.sh` on the project's 2-core
/// machine: about 15% more authorize calls per second than at normal priority (and about
/// 10% more than at nice 19), see the README.
fn run_flusher(
    mut conn: Connection,
    rx: std::sync::mpsc::Receiver<FullFile>,
    chain: Arc<tokio::sync::Mutex<Chain>>,
) {
    idle_priority();
    let failures = crate::throttle::LogThrottle::new(Duration::from_secs(10));
    while let Ok((file, rows)) = rx.recv() {
        let chunks = rows.chunks(FLUSH_CHUNK).count();
        for (i, chunk) in rows.chunks(FLUSH_CHUNK).enumerate() {
            let mut wait = Duration::from_millis(10);
            // SQLite's lock only; the chain lock is taken after the commit, never while
            // waiting for SQLite's (see the lock order in the module docs).
            while let Err(e) = flush(&mut conn, chunk, i + 1 == chunks, Source::Placed) {
                if let Some(n) = failures.admit() {
                    tracing::warn!(error = ?e, earlier_not_logged = n, "moving the decision journal into the database failed; retrying with backoff");
                }
                chain.blocking_lock().flush_failed = true;
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            let mut c = chain.blocking_lock();
            c.moved_at = Instant::now();
            c.flush_failed = false;
        }
        let mut c = chain.blocking_lock();
        if let Err(e) = c.journals[file].reset() {
            tracing::warn!(error = ?e, "resetting the decision journal failed");
        }
        c.inflight = None;
    }
}

/// Puts the calling thread in the `SCHED_IDLE` class, which runs only when nothing else
/// on its CPU wants to (Linux; elsewhere the thread keeps its priority). Failure is
/// harmless: the thread then competes at normal priority.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is a valid, initialised struct.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "the decision flusher keeps normal priority");
        }
    }
}

/// An event placed on its chain, as a row (which takes its canonical body) and the event
/// (a copy: this is for callers that want the stored event back, not the writer's path).
fn row_of(p: Placed) -> (Row, AuditEvent) {
    let event = p.event.clone();
    (row_and_ack(p).0, event)
}

/// An event placed on its chain, as a row (which takes its canonical body and the event's
/// fields), and the writer's acknowledgement.
fn row_and_ack(p: Placed) -> (Row, Appended) {
    let ack = Appended::from(&p.event);
    let AuditEvent {
        content: c,
        hash,
        prev_hash,
    } = p.event;
    let row = Row {
        tenant: p.tenant,
        seq: c.seq,
        id: c.id.to_string(),
        at: format_ts(&c.at),
        kind: c.kind.as_str().to_string(),
        subject_type: c.subject.kind,
        subject_id: c.subject.id,
        decision: c.decision,
        body: p.body,
        prev_hash,
        hash,
    };
    (row, ack)
}

/// The last row of each tenant in `rows`: the heads they leave behind.
pub(super) fn last_rows<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Vec<&'a Row> {
    let mut last: HashMap<&str, &Row> = HashMap::new();
    for r in rows {
        last.insert(r.tenant.as_str(), r);
    }
    last.into_values().collect()
}

fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

/// Inserts those of `rows` that are not stored yet (another process may have inserted some
/// from the journal) into `audit_events` and moves their tenants' heads, in one
/// transaction. `source` says whether their hashes are checked (rows read from a file).
///
/// Only a `last` transaction syncs the WAL (`synchronous = FULL`), which makes the earlier
/// ones of the same file durable with it: until then their events are still in the journal
/// file, which is reset only after the last commit, so a power cut loses nothing (replay
/// inserts what SQLite lost). A sync per transaction put one more device flush beside the
/// journal's own for every few hundred decisions.
pub(super) fn flush(conn: &mut Connection, rows: &[Row], last: bool, source: Source) -> Result<()> {
    conn.pragma_update(None, "synchronous", if last { "FULL" } else { "NORMAL" })?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    insert_continuing(&tx, rows, source)?;
    tx.commit()?;
    Ok(())
}

/// Inside an open write transaction: inserts those of `rows` that continue their tenants'
/// stored chains and moves the heads. Returns how many it inserted.
pub(super) fn insert_continuing(tx: &Connection, rows: &[Row], source: Source) -> Result<usize> {
    let mut heads = HashMap::new();
    {
        let mut read =
            tx.prepare_cached("SELECT seq, hash FROM audit_heads WHERE tenant_id = ?1")?;
        for r in rows {
            if !heads.contains_key(&r.tenant) {
                if let Some(h) = read
                    .query_row([&r.tenant], |x| {
                        Ok((x.get::<_, i64>(0)?, x.get::<_, String>(1)?))
                    })
                    .optional()?
                {
                    heads.insert(r.tenant.clone(), h);
                }
            }
        }
    }
    // Rows the writer placed need no recomputing of their hashes (see `Source`).
    let rows: Vec<&Row> = continuing(rows.iter(), heads, source);
    let mut insert = tx.prepare_cached(&format!(
        "{AUDIT_INSERT}VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    for r in &rows {
        insert.execute(params![
            r.tenant,
            r.seq,
            r.id,
            r.at,
            r.kind,
            r.subject_type,
            r.subject_id,
            r.decision,
            r.body,
            r.prev_hash,
            r.hash,
        ])?;
    }
    let mut update = tx.prepare_cached(
        "UPDATE audit_heads SET seq = ?1, hash = ?2, last_at = ?3 WHERE tenant_id = ?4",
    )?;
    for r in last_rows(rows.iter().copied()) {
        update.execute(params![r.seq, r.hash, r.at, r.tenant])?;
    }
    Ok(rows.len())
}

fn read_head(conn: &Connection, tenant: &TenantId) -> Result<Head> {
    let head = conn
        .prepare_cached("SELECT seq, hash, last_at FROM audit_heads WHERE tenant_id = ?1")?
        .query_row([tenant.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .optional()?
        .ok_or_else(|| Error::not_found("tenant"))?;
    let last_at = head
        .2
        .map(|s| parse_ts(&s).ok_or_else(|| corrupt("audit_heads.last_at")))
        .transpose()?;
    Ok((head.0, head.1, last_at))
}

/// The head to place a tenant's next event on: SQLite's, or the tenant's last journaled
/// event where that is further along (not yet moved).
fn head_of(chain: &Chain, conn: &Connection, tenant: &TenantId) -> Result<Head> {
    let stored = read_head(conn, tenant)?;
    let t = tenant.to_string();
    let last = chain
        .pending
        .iter()
        .rev()
        .find(|r| r.tenant == t)
        .or_else(|| {
            chain
                .inflight
                .as_ref()
                .and_then(|v| v.iter().rev().find(|r| r.tenant == t))
        });
    match last {
        Some(r) if r.seq > stored.0 => Ok((
            r.seq,
            r.hash.clone(),
            Some(parse_ts(&r.at).ok_or_else(|| corrupt("journal at"))?),
        )),
        _ => Ok(stored),
    }
}

/// Places `events` and journals them (the caller holds the chain lock). On failure the
/// heads are as before and `journal_failed` says when the journal last failed.
fn journal_batch<T>(
    chain: &mut Chain,
    conn: &mut Connection,
    events: Vec<(TenantId, NewEvent)>,
    split: fn(Placed) -> (Row, T),
) -> Result<(Vec<Row>, Vec<T>)> {
    let version = data_version(conn)?;
    if version != chain.seen_version {
        // Another connection committed: it may have moved heads.
        chain.heads.clear();
        chain.seen_version = version;
    }
    // The heads as they were, to put back if the journal write fails.
    let mut before: Vec<(TenantId, Option<Head>)> = Vec::new();
    for (tenant, _) in &events {
        if before.iter().any(|(t, _)| t == tenant) {
            continue;
        }
        let cached = chain.heads.get(tenant).cloned();
        if cached.is_none() {
            // No SQLite transaction: every writer of `audit_heads` holds the chain lock.
            let head = head_of(chain, conn, tenant)?;
            chain.heads.insert(*tenant, head);
        }
        before.push((*tenant, cached));
    }
    let (rows, placed): (Vec<Row>, Vec<T>) = place_events(&mut chain.heads, events)
        .into_iter()
        .map(split)
        .unzip();
    if let Err(e) = chain.journals[chain.active].append(&rows) {
        chain.journal_failed = Some(Instant::now());
        for (tenant, head) in before {
            match head {
                Some(h) => chain.heads.insert(tenant, h),
                None => chain.heads.remove(&tenant),
            };
        }
        static LOG: crate::throttle::LogThrottle =
            crate::throttle::LogThrottle::new(Duration::from_secs(5));
        if let Some(n) = LOG.admit() {
            tracing::error!(error = ?e, earlier_not_logged = n, "the decision journal could not be written; decisions are refused until it can");
        }
        return Err(e);
    }
    chain.journal_failed = None;
    Ok((rows, placed))
}

/// After a write transaction's commit failed (`Chain::uncertain`): commits a write of
/// its own, synced, which overwrites whatever the failed commit left in the WAL, so the
/// stored heads are the true ones again. It tries SQLite's write lock without waiting (the
/// caller holds the chain lock; see the lock order in the module docs): if another writer
/// holds it, that writer's commit settles the question instead, and this batch is refused.
fn settle_uncertain(
    chain: &mut Chain,
    conn: &mut Connection,
    busy_timeout: Duration,
) -> Result<()> {
    conn.busy_timeout(Duration::ZERO)?;
    let probe = write_probe(conn);
    conn.busy_timeout(busy_timeout)?;
    match probe {
        Ok(()) => {
            chain.uncertain = false;
            chain.heads.clear();
            Ok(())
        }
        Err(e) => Err(Error::Unavailable(anyhow::anyhow!(
            "a write's commit failed and no later write has committed yet: {e}"
        ))),
    }
}

/// A small synced write: `settings.ready_probe` set to the current time.
pub(crate) fn write_probe(conn: &mut Connection) -> Result<()> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(PROBE_SQL, [format_ts(&chrono::Utc::now())])?;
    tx.commit()?;
    Ok(())
}

/// The readiness probe's write (see `Store::probe_write`).
pub(crate) const PROBE_SQL: &str = "INSERT INTO settings (name, value) VALUES ('ready_probe', ?1) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";

impl Appender {
    /// Journals `events` as one batch (see [`BlockingAppend::append_blocking`]), returning
    /// them as stored.
    pub fn append_stored(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>> {
        self.append_with(events, row_of)
    }

    fn append_with<T>(
        &self,
        events: Vec<(TenantId, NewEvent)>,
        split: fn(Placed) -> (Row, T),
    ) -> Result<Vec<T>> {
        let mut chain = self.chain.blocking_lock();
        let chain = &mut *chain;
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let conn = conn
            .as_mut()
            .ok_or_else(|| Error::Unavailable(anyhow::anyhow!("the store has been closed")))?;
        if chain.uncertain {
            settle_uncertain(chain, conn, self.busy_timeout)?;
        }
        if chain.stalled() {
            return Err(Error::Unavailable(anyhow::anyhow!(
                "{} journaled decision events have not reached SQLite for {} s (is its write lock held?); refusing decisions until they do",
                chain.pending.len() + chain.inflight.as_ref().map_or(0, |f| f.len()),
                chain.moved_at.elapsed().as_secs()
            )));
        }
        // The chain lock across processes, for placing and journaling the batch. Another
        // process holds it only for a short write; one that holds it longer (stopped, or
        // stuck) gets this batch refused, not every decision held behind it.
        chain.journals[0].lock_within(self.busy_timeout)?;
        let journaled = journal_batch(chain, conn, events, split);
        chain.journals[0].unlock();
        let (rows, placed) = journaled?;
        chain.pending.extend(rows);
        Ok(placed)
    }
}

impl BlockingAppend for Appender {
    fn append_blocking(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<Appended>> {
        self.append_with(events, row_and_ack)
    }

    fn after_batch(&self) {
        loop {
            let mut chain = self.chain.blocking_lock();
            if chain.pending.len() < FLUSH_AT {
                return;
            }
            let Some(flusher) = self
                .flusher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            else {
                return;
            };
            if chain.inflight.is_some() {
                if chain.pending.len() < MAX_BACKLOG
                    || self.flusher_thread.is_finished()
                    || chain.stalled()
                {
                    return;
                }
                // The flusher is a file behind and the backlog is full: wait for it,
                // without the chain lock (it takes that lock to finish), unless it has
                // stalled (appends are then refused until it moves again).
                drop(chain);
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            // The other file is empty: its last flush reset it before clearing `inflight`.
            let rows = Arc::new(std::mem::take(&mut chain.pending));
            let full = chain.active;
            chain.inflight = Some(rows.clone());
            chain.moved_at = Instant::now();
            chain.active = 1 - full;
            if flusher.send((full, rows)).is_err() {
                tracing::warn!("the decision flusher has stopped");
            }
            return;
        }
    }
}
