//! `grantd backup PATH`: an online, consistent copy of the database that holds every
//! decision event acknowledged before it was taken, while the server runs.
//!
//! A copy of the files made with plain tools may miss events: acknowledged decision events
//! live in the decision journal (`<db>-decisions*`) until the flusher moves them, and a copy
//! of the database file alone, or of the files at slightly different moments, can lack them.
//! Here, in a write transaction and with the journal's lock held (the lock the server's
//! writer takes for every batch, so no decision is acknowledged meanwhile; taken after
//! SQLite's, the order every writer keeps), the journaled events not yet stored are
//! inserted into the database, and a read transaction pins the snapshot; then the lock is
//! released and SQLite's online backup copies that snapshot page by page while the server
//! goes on. The copy is written under a name of its own beside the destination, synced,
//! and linked into place only if nothing is there yet.

use super::appender::{insert_continuing, open_conn};
use super::journal::{lock_and_read, Source};
use super::BUSY_TIMEOUT;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What a backup copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub bytes: u64,
    pub tenants: i64,
    pub events: i64,
    /// Journaled decision events this backup moved into the database first.
    pub moved_from_journal: usize,
}

/// Copies the database at `db` (journal beside it) to `dest`, which must not exist. The
/// database must exist; it is neither created nor migrated.
pub fn backup(db: &Path, journal: Option<&Path>, dest: &Path) -> Result<BackupReport> {
    if std::fs::symlink_metadata(dest).is_ok() {
        return Err(taken(dest));
    }
    if !db.is_file() {
        return Err(Error::invalid(format!("no database at {}", db.display())));
    }
    let mut src = open_conn(db, BUSY_TIMEOUT)?;
    // The lock order every writer keeps: SQLite's write lock, then the journal's. While
    // the journal's is held no decision is acknowledged, so it is held only from here
    // until the snapshot is pinned.
    let write = src.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let locked = match journal {
        Some(j) => lock_and_read(j)?,
        None => None,
    };
    let moved = match &locked {
        Some((_, rows)) if !rows.is_empty() => insert_continuing(&write, rows, Source::File)?,
        _ => 0,
    };
    write.commit()?;
    // Pin the snapshot the copy is taken from, then let the server go on.
    src.execute_batch("BEGIN")?;
    let (tenants, events): (i64, i64) = src.query_row(
        "SELECT (SELECT COUNT(*) FROM tenants), (SELECT COUNT(*) FROM audit_events)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    drop(locked);
    let tmp = partial_path(dest);
    let copied = copy(&src, &tmp).and_then(|()| {
        // Into place only if nothing is there yet (a link does not replace a file).
        std::fs::hard_link(&tmp, dest).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => taken(dest),
            _ => io("link", dest, e),
        })
    });
    let _ = src.execute_batch("COMMIT");
    remove_partial(&tmp);
    copied?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync", dir, e))?;
    }
    let bytes = std::fs::metadata(dest)
        .map_err(|e| io("stat", dest, e))?
        .len();
    Ok(BackupReport {
        bytes,
        tenants,
        events,
        moved_from_journal: moved,
    })
}

/// The snapshot `src`'s read transaction sees, into a new file at `tmp` (synced), in one
/// step of SQLite's online backup: the source's read lock is held throughout, so the copy
/// is that snapshot whatever the server writes meanwhile.
fn copy(src: &rusqlite::Connection, tmp: &Path) -> Result<()> {
    let mut dst = rusqlite::Connection::open_with_flags(
        tmp,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    {
        let b = rusqlite::backup::Backup::new(src, &mut dst)?;
        match b.step(-1)? {
            rusqlite::backup::StepResult::Done => {}
            other => {
                return Err(Error::Unavailable(anyhow::anyhow!(
                    "the backup did not finish in one step: {other:?}"
                )))
            }
        }
    }
    // A copy that opens on its own: its log is in the file, not in a WAL beside it.
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    drop(dst);
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("sync", tmp, e))
}

/// A name of this backup's own beside `dest`, for the copy until it is complete.
fn partial_path(dest: &Path) -> PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(format!(
        ".partial-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    PathBuf::from(p)
}

/// Removes the partial copy and what SQLite may have left beside it.
fn remove_partial(tmp: &Path) {
    let _ = std::fs::remove_file(tmp);
    let mut j = tmp.as_os_str().to_owned();
    j.push("-journal");
    let _ = std::fs::remove_file(PathBuf::from(j));
}

/// The destination exists already: a backup never replaces a file.
fn taken(dest: &Path) -> Error {
    Error::invalid(format!("{} exists; choose a new path", dest.display()))
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Unavailable(anyhow::anyhow!("backup: {what} {}: {e}", path.display()))
}
