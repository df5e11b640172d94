//! The decision journal: an append-only file beside the SQLite database where the audit
//! writer makes each group-committed batch of decision events durable with one `pwrite`
//! and one `fdatasync`, before moving them into `audit_events` in bulk (see
//! `sqlite_appender`).
//!
//! A SQLite commit of a handful of events costs a transaction: page writes into the WAL
//! (two `pwrite`s per page), lock calls, an `fsync` that walks the page cache, and later a
//! checkpoint that copies every page again. The writer is the one serial step every decision
//! waits for, so that cost bounded the decision rate. The journal costs one write and one
//! data sync per batch.
//!
//! Format: records back to back from offset 0, each `len: u32 LE`, `check: [u8; 8]` (the
//! first bytes of the SHA-256 of the payload) and `len` bytes of payload, the event's
//! columns as length-prefixed fields. Every append also writes a zero `len` after its last
//! record, so a reader stops there. After the events have been moved into SQLite the
//! journal is reset: writing starts at offset 0 again, over old records. Whatever a reader
//! finds past the end marker, or past a record a crash tore, is ignored; and because every
//! record is an event already placed in its tenant's chain, replay takes a record only if it
//! continues the chain stored in SQLite (`seq` one past the head, `prev_hash` the head's
//! hash, `hash` recomputed from the body) — an old record is already in SQLite and is
//! skipped.
//!
//! Where the file system allows it, a batch goes to the disk as one `O_DIRECT | O_DSYNC`
//! write of whole 4 KiB blocks, from the start of the block that holds the current end:
//! the bytes already there are written again unchanged (so a torn write cannot alter an
//! acknowledged record), then the new records and the end marker, then zeros. That skips
//! the page cache and its writeback; the device flush is the same. Where `O_DIRECT` is
//! refused (at open, or by a write with `EINVAL`), appends fall back to `pwrite` +
//! `fdatasync`.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// An event as stored: the columns of `audit_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub tenant: String,
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub kind: String,
    pub subject_type: String,
    pub subject_id: String,
    pub decision: Option<String>,
    pub body: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Where the rows handed to [`continuing`] come from, which says whether their `hash`
/// must be recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Read back from a journal file (replay at start, or another process's write
    /// transaction): each row's `hash` is recomputed from its `prev_hash` and body.
    File,
    /// Placed in this process by the audit writer, which computed each `hash` from the
    /// body it holds; the flusher moves only such rows (rows replayed from the files reach
    /// SQLite at start through a write transaction, as `File`, before any decision, and
    /// the store does not open if that fails).
    Placed,
}

/// Of `rows` (in journal order), those that continue their tenant's chain from `heads`
/// (tenant → stored `seq` and `hash`; a tenant without a head takes none): `seq` one past
/// the head, `prev_hash` the head's hash, and (for rows from a [`Source::File`]) `hash`
/// the chained hash of the body. The others are already stored (or belong to no chain)
/// and are skipped.
pub(crate) fn continuing<'a>(
    rows: impl IntoIterator<Item = &'a Row>,
    mut heads: std::collections::HashMap<String, (i64, String)>,
    source: Source,
) -> Vec<&'a Row> {
    let mut out = Vec::new();
    for r in rows {
        let Some(head) = heads.get_mut(&r.tenant) else {
            continue;
        };
        if r.seq == head.0 + 1
            && r.prev_hash == head.1
            && (source == Source::Placed
                || crate::domain::audit::chain_hash(&r.prev_hash, &r.body) == r.hash)
        {
            *head = (r.seq, r.hash.clone());
            out.push(r);
        } else if r.seq > head.0 + 1 {
            // A journaled event past a gap: it cannot be placed, and nothing appends
            // past a journaled event without it, so this is damage, not a race.
            tracing::error!(tenant = %r.tenant, seq = r.seq, head = head.0, "a journaled decision event does not continue its chain; skipped");
        }
    }
    out
}

/// The path of the file whose lock marks the process that owns the journal.
pub(crate) fn owner_path(journal: &Path) -> PathBuf {
    let mut p = journal.as_os_str().to_owned();
    p.push(".owner");
    PathBuf::from(p)
}

/// Tries to become the journal's owner: `Some(file)` holds the lock until it is dropped.
pub(crate) fn try_own(journal: &Path) -> Result<Option<File>> {
    let path = owner_path(journal);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_error("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error("lock", &path, e)),
    }
}

/// For a process that does not own the journal: waits for the chain lock (an exclusive
/// lock on the journal file, which the owner's writer takes for every batch) and returns
/// the file, still locked, with the records it holds. `None` if there is no journal.
pub(crate) fn lock_and_read(path: &Path) -> Result<Option<(File, Vec<Row>)>> {
    let file = match OpenOptions::new().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("open", path, e)),
    };
    file.lock().map_err(|e| io_error("lock", path, e))?;
    let mut rows = read_rows(path)?;
    rows.extend(read_rows(&Journal::second_path(path))?);
    in_chain_order(&mut rows);
    Ok(Some((file, rows)))
}

/// The records of one journal file (none if it does not exist).
fn read_rows(path: &Path) -> Result<Vec<Row>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(decode_all(&bytes).0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error("read", path, e)),
    }
}

/// Orders the records of both files so each tenant's come in `seq` order (a stable sort:
/// the files hold consecutive stretches of each chain, in either order).
pub(crate) fn in_chain_order(rows: &mut [Row]) {
    rows.sort_by_key(|r| r.seq);
}

/// Whether either journal file holds a record (a quick look at their first lengths).
pub(crate) fn has_records(path: &Path) -> bool {
    [path.to_path_buf(), Journal::second_path(path)]
        .iter()
        .any(|p| {
            let Ok(file) = File::open(p) else {
                return false;
            };
            let mut len = [0u8; 4];
            file.read_exact_at(&mut len, 0).is_ok() && len != [0u8; 4]
        })
}

/// Bytes the file is extended by when an append does not fit: written as zeros once, so
/// later appends overwrite allocated blocks and `fdatasync` has no metadata to write.
const GROW: u64 = 8 << 20;
const HEADER: usize = 12;
/// The unit of direct writes: their offset, length and memory address are multiples of it
/// (4 KiB covers devices with 512-byte and 4 KiB logical blocks).
const ALIGN: usize = 4096;

/// The journal opened a second time with `O_DIRECT | O_DSYNC`, and the memory its writes
/// come from.
struct Direct {
    file: File,
    /// Backing store of the aligned region; its first `end % ALIGN` bytes (from the
    /// aligned start) are a copy of the partial block at the journal's end.
    mem: Vec<u8>,
}

impl Direct {
    fn open(path: &Path) -> Option<Direct> {
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
            .open(path)
            .ok()?;
        Some(Direct {
            file,
            mem: vec![0u8; 64 * ALIGN + ALIGN],
        })
    }

    /// Offset in `mem` where the aligned region starts.
    fn start(&self) -> usize {
        self.mem.as_ptr().align_offset(ALIGN)
    }

    /// Makes the aligned region at least `len` bytes, keeping its first `keep` bytes.
    fn reserve(&mut self, len: usize, keep: usize) {
        if self.mem.len() - self.start() >= len {
            return;
        }
        let mut mem = vec![0u8; len.next_multiple_of(ALIGN) * 2 + ALIGN];
        let (from, to) = (self.start(), mem.as_ptr().align_offset(ALIGN));
        mem[to..to + keep].copy_from_slice(&self.mem[from..from + keep]);
        self.mem = mem;
    }

    fn region(&mut self, len: usize) -> &mut [u8] {
        let start = self.start();
        &mut self.mem[start..start + len]
    }
}

/// The journal file and where the next record goes.
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    /// Offset of the end marker: the valid records are the bytes before it.
    end: u64,
    /// Bytes allocated (written at least once).
    allocated: u64,
    buf: Vec<u8>,
    /// Direct writes, while the file system takes them.
    direct: Option<Direct>,
    /// Tests: the next append fails as a write error would.
    #[cfg(test)]
    pub fail_next: bool,
}

impl Journal {
    /// The journal's path for a database file (the first of its two files; its lock is
    /// the chain lock across processes).
    pub fn path_for(db: &Path) -> PathBuf {
        let mut p = db.as_os_str().to_owned();
        p.push("-decisions");
        PathBuf::from(p)
    }

    /// The journal's second file: the writer appends to one while the other's events are
    /// being moved into SQLite.
    pub fn second_path(first: &Path) -> PathBuf {
        let mut p = first.as_os_str().to_owned();
        p.push("-1");
        PathBuf::from(p)
    }

    /// Opens (or creates) the journal at `path` and returns it with the records it holds,
    /// in order. Appends go after them until [`Journal::reset`].
    pub fn open(path: &Path) -> Result<(Journal, Vec<Row>)> {
        Journal::open_with(path, true)
    }

    /// [`Journal::open`]; `direct: false` appends with `pwrite` + `fdatasync` only (the
    /// fallback, kept testable).
    pub fn open_with(path: &Path, direct: bool) -> Result<(Journal, Vec<Row>)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_error("open", path, e))?;
        let allocated = file
            .metadata()
            .map_err(|e| io_error("stat", path, e))?
            .len();
        let mut bytes = Vec::with_capacity(allocated as usize);
        {
            use std::io::Read;
            (&file)
                .read_to_end(&mut bytes)
                .map_err(|e| io_error("read", path, e))?;
        }
        let (rows, end) = decode_all(&bytes);
        let mut direct = if direct { Direct::open(path) } else { None };
        if let Some(d) = direct.as_mut() {
            let block = end / ALIGN * ALIGN;
            d.region(end - block).copy_from_slice(&bytes[block..end]);
        }
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
                end: end as u64,
                allocated,
                buf: Vec::with_capacity(64 << 10),
                direct,
                #[cfg(test)]
                fail_next: false,
            },
            rows,
        ))
    }

    /// Takes the chain lock across processes (see [`lock_and_read`]); blocks.
    pub fn lock(&self) -> Result<()> {
        self.file
            .lock()
            .map_err(|e| io_error("lock", &self.path, e))
    }

    /// Releases [`Journal::lock`].
    pub fn unlock(&self) {
        let _ = self.file.unlock();
    }

    /// Appends `rows` and syncs them: when this returns `Ok`, they survive a power cut.
    pub fn append(&mut self, rows: &[Row]) -> Result<()> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_next) {
            return Err(io_error(
                "write",
                &self.path,
                std::io::Error::other("injected"),
            ));
        }
        self.buf.clear();
        for r in rows {
            encode(&mut self.buf, r);
        }
        self.buf.extend_from_slice(&0u32.to_le_bytes());
        if self.direct.is_some() {
            // Whole blocks, from the one holding the end.
            let block = self.end / ALIGN as u64 * ALIGN as u64;
            let total = (self.end - block) as usize + self.buf.len();
            let total = total.next_multiple_of(ALIGN);
            if block + total as u64 > self.allocated {
                self.grow(block + total as u64)?;
            }
            match self.append_direct(block as usize, total) {
                Ok(()) => {
                    self.end += (self.buf.len() - 4) as u64;
                    return Ok(());
                }
                // This file system takes no direct writes. Whatever part of the blocks was
                // written holds the same bytes the buffered path below writes again.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => self.direct = None,
                Err(e) => return Err(io_error("write", &self.path, e)),
            }
        }
        let need = self.end + self.buf.len() as u64;
        if need > self.allocated {
            self.grow(need)?;
        }
        self.file
            .write_all_at(&self.buf, self.end)
            .map_err(|e| io_error("write", &self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| io_error("sync", &self.path, e))?;
        self.end += (self.buf.len() - 4) as u64;
        Ok(())
    }

    /// Writes `buf` (records and end marker) at `end` with one direct, synchronous write of
    /// the `total` bytes of whole blocks from `block`, the start of the block holding `end`
    /// (allocated already: see [`Journal::append`]); then keeps a copy of the new partial
    /// end block for the next append.
    fn append_direct(&mut self, block: usize, total: usize) -> std::io::Result<()> {
        let end = self.end as usize;
        let head = end - block;
        let d = self.direct.as_mut().expect("direct writes");
        d.reserve(total, head);
        let start = d.start();
        let Direct { file, mem } = d;
        let region = &mut mem[start..start + total];
        region[head..head + self.buf.len()].copy_from_slice(&self.buf);
        region[head + self.buf.len()..].fill(0);
        file.write_all_at(region, block as u64)?;
        let new_end = end + self.buf.len() - 4;
        let new_block = new_end / ALIGN * ALIGN;
        region.copy_within(new_block - block..new_end - block, 0);
        Ok(())
    }

    /// Starts over at offset 0: every record so far is stored elsewhere (in SQLite). The
    /// end marker written first makes the old records unreachable even before any append.
    pub fn reset(&mut self) -> Result<()> {
        if self.end == 0 {
            return Ok(());
        }
        self.file
            .write_all_at(&0u32.to_le_bytes(), 0)
            .map_err(|e| io_error("write", &self.path, e))?;
        self.end = 0;
        // The copy of the end block is now empty: the next direct write starts at block 0
        // and puts its own end marker there (the kernel writes this page out first).
        Ok(())
    }

    /// Bytes of records since the last reset.
    pub fn len(&self) -> u64 {
        self.end
    }

    fn grow(&mut self, need: u64) -> Result<()> {
        let target = need.div_ceil(GROW) * GROW;
        let zeros = vec![0u8; (target - self.allocated) as usize];
        self.file
            .write_all_at(&zeros, self.allocated)
            .map_err(|e| io_error("extend", &self.path, e))?;
        // The new size is metadata: one full sync now, none for the appends into it.
        self.file
            .sync_all()
            .map_err(|e| io_error("sync", &self.path, e))?;
        self.allocated = target;
        Ok(())
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Unavailable(anyhow::anyhow!(
        "decision journal {}: {what} failed: {e}",
        path.display()
    ))
}

fn put(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn check(payload: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(payload);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// Appends one record for `r` to `buf`.
pub(crate) fn encode(buf: &mut Vec<u8>, r: &Row) {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; HEADER]);
    put(buf, &r.tenant);
    buf.extend_from_slice(&r.seq.to_le_bytes());
    put(buf, &r.id);
    put(buf, &r.at);
    put(buf, &r.kind);
    put(buf, &r.subject_type);
    put(buf, &r.subject_id);
    match &r.decision {
        None => buf.push(0),
        Some(d) => {
            buf.push(1);
            put(buf, d);
        }
    }
    put(buf, &r.body);
    put(buf, &r.prev_hash);
    put(buf, &r.hash);
    let len = (buf.len() - start - HEADER) as u32;
    let sum = check(&buf[start + HEADER..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + HEADER].copy_from_slice(&sum);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

fn decode(payload: &[u8]) -> Option<Row> {
    let mut r = Reader(payload);
    let tenant = r.str()?;
    let seq = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let row = Row {
        tenant,
        seq,
        id: r.str()?,
        at: r.str()?,
        kind: r.str()?,
        subject_type: r.str()?,
        subject_id: r.str()?,
        decision: match r.take(1)?[0] {
            0 => None,
            1 => Some(r.str()?),
            _ => return None,
        },
        body: r.str()?,
        prev_hash: r.str()?,
        hash: r.str()?,
    };
    r.0.is_empty().then_some(row)
}

/// The records from the start of `bytes` up to the end marker or the first record that is
/// torn or fails its check, and the offset where they end.
pub(crate) fn decode_all(bytes: &[u8]) -> (Vec<Row>, usize) {
    let mut rows = Vec::new();
    let mut at = 0usize;
    while bytes.len() >= at + HEADER {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        if len == 0 || bytes.len() < at + HEADER + len {
            break;
        }
        let payload = &bytes[at + HEADER..at + HEADER + len];
        if bytes[at + 4..at + HEADER] != check(payload) {
            break;
        }
        let Some(row) = decode(payload) else {
            break;
        };
        rows.push(row);
        at += HEADER + len;
    }
    (rows, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, decision: Option<&str>) -> Row {
        Row {
            tenant: "t".into(),
            seq,
            id: format!("id{seq}"),
            at: "2026-12-02T00:00:00.000000Z".into(),
            kind: "authorize".into(),
            subject_type: "User".into(),
            subject_id: "ü\"x".into(),
            decision: decision.map(str::to_string),
            body: format!("{{\"seq\":{seq}}}"),
            prev_hash: "p".into(),
            hash: "h".into(),
        }
    }

    /// Rows `from..=to` of a chain starting at genesis `g`, hashed properly.
    fn chained(g: &str, from: i64, to: i64) -> Vec<Row> {
        let mut prev = g.to_string();
        let mut out = Vec::new();
        for seq in 1..=to {
            let mut r = row(seq, None);
            r.prev_hash = prev.clone();
            r.hash = crate::domain::audit::chain_hash(&prev, &r.body);
            prev = r.hash.clone();
            if seq >= from {
                out.push(r);
            }
        }
        out
    }

    #[test]
    fn continuing_takes_the_rows_after_the_head_and_checks_file_rows_hashes() {
        let rows = chained("g", 1, 4);
        let heads = |seq: i64| {
            let hash = if seq == 0 {
                "g".to_string()
            } else {
                rows[seq as usize - 1].hash.clone()
            };
            std::collections::HashMap::from([("t".to_string(), (seq, hash))])
        };
        for source in [Source::File, Source::Placed] {
            let took: Vec<i64> = continuing(&rows, heads(2), source)
                .iter()
                .map(|r| r.seq)
                .collect();
            assert_eq!(took, vec![3, 4], "{source:?}");
            assert!(continuing(&rows, heads(4), source).is_empty());
            // a row past a gap is not taken
            assert!(continuing(&rows[3..], heads(2), source).is_empty());
            // another tenant's head takes none of these
            let other = std::collections::HashMap::from([("u".to_string(), (0, "g".to_string()))]);
            assert!(continuing(&rows, other, source).is_empty());
        }
        // A row whose body no longer matches its hash: a file's is refused (and so is
        // everything after it), the writer's own placement is trusted.
        let mut edited = rows.clone();
        edited[2].body.push(' ');
        let from_file: Vec<i64> = continuing(&edited, heads(2), Source::File)
            .iter()
            .map(|r| r.seq)
            .collect();
        assert!(from_file.is_empty(), "{from_file:?}");
        let placed: Vec<i64> = continuing(&edited, heads(2), Source::Placed)
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(placed, vec![3, 4]);
    }

    #[test]
    fn records_round_trip_and_stop_at_the_end_marker() {
        let mut buf = Vec::new();
        encode(&mut buf, &row(1, Some("allow")));
        encode(&mut buf, &row(2, None));
        let end = buf.len();
        buf.extend_from_slice(&0u32.to_le_bytes());
        // an old record past the marker is not read
        encode(&mut buf, &row(3, None));
        let (rows, at) = decode_all(&buf);
        assert_eq!(rows, vec![row(1, Some("allow")), row(2, None)]);
        assert_eq!(at, end);
    }

    #[test]
    fn a_torn_or_corrupt_record_ends_the_journal() {
        let mut buf = Vec::new();
        encode(&mut buf, &row(1, None));
        let first = buf.len();
        encode(&mut buf, &row(2, None));
        let whole = buf.clone();
        // torn: the second record is cut short
        let (rows, at) = decode_all(&whole[..whole.len() - 3]);
        assert_eq!((rows.len(), at), (1, first));
        // corrupt: one byte of the second record's payload flipped
        let mut bad = whole.clone();
        let i = bad.len() - 2;
        bad[i] ^= 1;
        assert_eq!(decode_all(&bad).0, vec![row(1, None)]);
        // a length running past the end of the file
        let mut long = whole[..first].to_vec();
        long.extend_from_slice(&(1u32 << 30).to_le_bytes());
        long.extend_from_slice(&[0u8; 8]);
        assert_eq!(decode_all(&long).0, vec![row(1, None)]);
    }

    #[test]
    fn appends_survive_reopening_and_reset_hides_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-decisions");
        let (mut j, rows) = Journal::open(&path).unwrap();
        assert!(rows.is_empty());
        j.append(&[row(1, None), row(2, Some("deny"))]).unwrap();
        j.append(&[row(3, None)]).unwrap();
        drop(j);
        let (mut j, rows) = Journal::open(&path).unwrap();
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
        // appends continue after what was found
        j.append(&[row(4, None)]).unwrap();
        drop(j);
        let (mut j, rows) = Journal::open(&path).unwrap();
        assert_eq!(rows.len(), 4);
        j.reset().unwrap();
        assert_eq!(j.len(), 0);
        drop(j);
        let (mut j, rows) = Journal::open(&path).unwrap();
        assert!(rows.is_empty());
        // after a reset, a shorter batch overwrites the start; the rest is not read
        j.append(&[row(9, None)]).unwrap();
        drop(j);
        let (_, rows) = Journal::open(&path).unwrap();
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [9]);
    }

    /// Both write paths, over many batches of mixed sizes that cross blocks, outgrow the
    /// direct region and the allocated file, survive reopening (the partial end block is
    /// picked up from the file) and a reset: every acknowledged record reads back in order,
    /// and no append changes a byte before the end it started from.
    #[test]
    fn direct_and_buffered_appends_keep_every_record_across_blocks() {
        for direct in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db-decisions");
            let (mut j, _) = Journal::open_with(&path, direct).unwrap();
            let mut expected = Vec::new();
            let mut seq = 0;
            for round in 0..60usize {
                let n = [1, 3, 17, 2, 1000, 5][round % 6];
                let batch: Vec<Row> = (0..n)
                    .map(|k| {
                        seq += 1;
                        let mut r = row(seq, (k % 2 == 0).then_some("allow"));
                        r.body = "x".repeat((seq as usize * 37) % 4000);
                        r
                    })
                    .collect();
                // the blocks an append writes again: the one holding the end, and the one
                // before it
                let old_end = j.len();
                let from = (old_end / ALIGN as u64).saturating_sub(1) * ALIGN as u64;
                let tail = |f: &File| {
                    let mut b = vec![0u8; (old_end - from) as usize];
                    f.read_exact_at(&mut b, from).unwrap();
                    b
                };
                let before = tail(&File::open(&path).unwrap());
                j.append(&batch).unwrap();
                let after = tail(&File::open(&path).unwrap());
                assert_eq!(before, after, "direct={direct} round {round}");
                expected.extend(batch);
                if round % 7 == 6 {
                    drop(j);
                    let (reopened, rows) = Journal::open_with(&path, direct).unwrap();
                    assert_eq!(rows, expected, "direct={direct} reopened at round {round}");
                    j = reopened;
                }
                if round == 30 {
                    j.reset().unwrap();
                    expected.clear();
                }
            }
            assert!(j.allocated > GROW, "the test outgrew one allocation");
            assert_eq!(read_rows(&path).unwrap(), expected, "direct={direct}");
            if direct && j.direct.is_none() {
                eprintln!("this file system refused O_DIRECT: both runs took the buffered path");
            }
        }
    }

    #[test]
    fn both_files_are_read_in_chain_order() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("db-decisions");
        // The second file holds the older stretch (it was being moved when the writer
        // switched to the first).
        let (mut a, _) = Journal::open(&first).unwrap();
        a.append(&[row(3, None), row(4, None)]).unwrap();
        let (mut b, _) = Journal::open(&Journal::second_path(&first)).unwrap();
        b.append(&[row(1, None), row(2, None)]).unwrap();
        let (_lock, rows) = lock_and_read(&first).unwrap().unwrap();
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(has_records(&first));
        a.reset().unwrap();
        b.reset().unwrap();
        assert!(!has_records(&first));
        assert!(lock_and_read(&dir.path().join("none")).unwrap().is_none());
    }
}
