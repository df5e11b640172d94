//! The SQLite store's decision-event appender: a connection of its own that commits each
//! group-committed batch of events synchronously, called from the audit writer's thread.
//!
//! Decision events are the hottest write grantd makes (one per authorize call). Through the
//! async pool every statement of a commit is a hand-off to the connection's worker thread
//! and back, and under load each hand-off waits for a busy core: a batch took ~2 ms, most of
//! it waiting, and the single writer capped decisions at a fraction of what the engine
//! answers. Here the whole transaction (head reads, inserts through cached prepared
//! statements, head updates, commit and its fsync) runs on the audit writer's own thread
//! (see `audit`) without a hand-off; the only crossings are the batch arriving and its
//! answers leaving.
//!
//! The events go to the decision inbox (migration 0011): a commit there dirties a few pages
//! instead of one in each of `audit_events`' six B-trees. Once `SETTLE_AT` events have
//! gathered, the writer moves them into `audit_events` in one transaction between batches
//! (`after_batch`); the store's reads move whatever is there before they look.
//!
//! Durability and order are those of every other write: `BEGIN IMMEDIATE` takes SQLite's
//! write lock (waiting up to the busy timeout for a mutation's transaction to finish),
//! `synchronous = FULL` syncs the WAL before `COMMIT` returns, and the answer is sent only
//! after the commit. Mutations keep appending their own events inside their own
//! transactions through the pool; both read the tenant's chain head under the write lock,
//! so the chain stays gap-free whoever writes.

use super::sqlite::{corrupt, place_events, Head, INBOX_INSERT, SETTLE_INBOX};
use super::BlockingAppend;
use crate::clock::{format_ts, parse_ts};
use crate::domain::audit::{AuditEvent, NewEvent};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The appender's connection. Its one caller is the audit writer's thread, so the lock is
/// never contended; it exists so the store can close the connection.
pub(crate) struct Appender {
    conn: Mutex<Option<Connection>>,
    /// Events this appender put in the inbox since it last moved it. Reads may have moved
    /// them meanwhile; the move is then nearly free.
    inboxed: AtomicUsize,
}

/// Inbox size at which the writer moves it into `audit_events`. A move of this many events
/// holds the write lock for a few milliseconds; larger moves spread the index writes over
/// more events, but every decision waits while one runs.
pub(crate) const SETTLE_AT: usize = 2048;

impl Appender {
    /// Opens the appender's connection to the database file at `path`.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy_timeout)?;
        // The same settings as the pool's connections (see `SqliteStore::connect`).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        Ok(Appender {
            conn: Mutex::new(Some(conn)),
            inboxed: AtomicUsize::new(0),
        })
    }

    /// Moves the inbox into `audit_events` (one write transaction).
    fn settle(conn: &mut Connection) -> Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for sql in SETTLE_INBOX {
            tx.prepare_cached(sql)?.execute([])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Closes the connection; later appends fail as unavailable.
    pub fn close(&self) {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

impl BlockingAppend for Appender {
    fn append_blocking(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let conn = conn
            .as_mut()
            .ok_or_else(|| Error::Unavailable(anyhow::anyhow!("the store has been closed")))?;
        let stored = append(conn, events)?;
        self.inboxed.fetch_add(stored.len(), Ordering::Relaxed);
        Ok(stored)
    }

    fn after_batch(&self) {
        if self.inboxed.load(Ordering::Relaxed) < SETTLE_AT {
            return;
        }
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let Some(conn) = conn.as_mut() else {
            return;
        };
        match Self::settle(conn) {
            Ok(()) => self.inboxed.store(0, Ordering::Relaxed),
            // The events are committed in the inbox, where reads find and move them; the
            // next batch tries again.
            Err(e) => tracing::warn!(error = ?e, "moving the decision inbox failed"),
        }
    }
}

fn append(conn: &mut Connection, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut heads: HashMap<TenantId, Head> = HashMap::new();
    {
        let mut read =
            tx.prepare_cached("SELECT seq, hash, last_at FROM audit_heads WHERE tenant_id = ?1")?;
        for (tenant, _) in &events {
            if heads.contains_key(tenant) {
                continue;
            }
            let head = read
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
            heads.insert(*tenant, (head.0, head.1, last_at));
        }
    }
    let placed = place_events(&mut heads, events);
    {
        let mut insert = tx.prepare_cached(&format!(
            "{INBOX_INSERT}VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ))?;
        for p in &placed {
            let c = &p.event.content;
            insert.execute(params![
                p.tenant,
                c.seq,
                c.id.to_string(),
                format_ts(&c.at),
                c.kind.as_str(),
                c.subject.kind,
                c.subject.id,
                c.decision,
                p.body,
                p.event.prev_hash,
                p.event.hash,
            ])?;
        }
        let mut update = tx.prepare_cached(
            "UPDATE audit_heads SET seq = ?1, hash = ?2, last_at = ?3 WHERE tenant_id = ?4",
        )?;
        for (tenant, (seq, hash, last_at)) in &heads {
            update.execute(params![
                seq,
                hash,
                last_at.as_ref().map(format_ts),
                tenant.to_string()
            ])?;
        }
    }
    tx.commit()?;
    Ok(placed.into_iter().map(|p| p.event).collect())
}
