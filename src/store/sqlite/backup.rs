//! `grantd backup PATH`: an online, consistent copy of the database that holds every
//! decision event acknowledged before it was taken, while the server runs.
//!
//! A copy of the files made with plain tools may miss events: acknowledged decision events
//! live in the decision journal (`<db>-decisions*`) until the flusher moves them, and a copy
//! of the database file alone, or of the files at slightly different moments, can lack them.
//! Here, with the journal's lock held (the lock the server's writer takes for every batch,
//! so no decision is acknowledged meanwhile), the journaled events not yet stored are
//! inserted into the database, and a read transaction pins the snapshot; then the lock is
//! released and SQLite's online backup copies that snapshot page by page while the server
//! goes on. The copy is written beside the destination, synced and renamed into place.

use super::appender::{flush, open_conn};
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

/// Copies the database at `db` (journal beside it) to `dest`, which must not exist.
pub fn backup(db: &Path, journal: Option<&Path>, dest: &Path) -> Result<BackupReport> {
    if dest.exists() {
        return Err(Error::invalid(format!(
            "{} exists; choose a new path",
            dest.display()
        )));
    }
    let mut src = open_conn(db, BUSY_TIMEOUT)?;
    // The journal's lock: no decision is acknowledged while it is held.
    let locked = match journal {
        Some(j) => lock_and_read(j)?,
        None => None,
    };
    let mut moved = 0;
    if let Some((_, rows)) = &locked {
        if !rows.is_empty() {
            flush(&mut src, rows, true, Source::File)?;
            moved = rows.len();
        }
    }
    // Pin the snapshot the copy is taken from, then let the server go on.
    src.execute_batch("BEGIN")?;
    let (tenants, events): (i64, i64) = src.query_row(
        "SELECT (SELECT COUNT(*) FROM tenants), (SELECT COUNT(*) FROM audit_events)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    drop(locked);
    let tmp = partial_path(dest);
    let copied = copy(&src, &tmp);
    let _ = src.execute_batch("COMMIT");
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dest).map_err(|e| io("rename", dest, e))?;
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
    let _ = std::fs::remove_file(tmp);
    let mut dst = rusqlite::Connection::open(tmp)?;
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

fn partial_path(dest: &Path) -> PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Unavailable(anyhow::anyhow!("backup: {what} {}: {e}", path.display()))
}
