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
//! Durability and order are those of every other write: `BEGIN IMMEDIATE` takes SQLite's
//! write lock (waiting up to the busy timeout for a mutation's transaction to finish),
//! `synchronous = FULL` syncs the WAL before `COMMIT` returns, and the answer is sent only
//! after the commit. Mutations keep appending their own events inside their own
//! transactions through the pool; both read the tenant's chain head under the write lock,
//! so the chain stays gap-free whoever writes.

use super::sqlite::{corrupt, place_events, Head, AUDIT_INSERT};
use super::BlockingAppend;
use crate::clock::{format_ts, parse_ts};
use crate::domain::audit::{AuditEvent, NewEvent};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// The appender's connection. Its one caller is the audit writer's thread, so the lock is
/// never contended; it exists so the store can close the connection.
pub(crate) struct Appender {
    conn: Mutex<Option<Connection>>,
}

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
        })
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
        append(conn, events)
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
            "{AUDIT_INSERT}VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
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
