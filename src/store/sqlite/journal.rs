//! The decision journal: an append-only file beside the SQLite database where the audit
//! writer makes each group-committed batch of decision events durable with one `pwrite`
//! and one `fdatasync`, before moving them into `audit_events` in bulk (see
//! `appender`).
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
//! finds past the end marker is ignored; and because every record is an event already
//! placed in its tenant's chain, replay takes a record only if it continues the chain
//! stored in SQLite (`seq` one past the head, `prev_hash` the head's hash, `hash`
//! recomputed from the body) — an old record is already in SQLite and is skipped.
//!
//! A record that is cut short or fails its check ends the records only if it is the last
//! one: a write a crash cut short (its batch was never acknowledged), dropped with what
//! follows it. If valid records of the current contents follow it, it was written whole and
//! damaged since: reading the journal fails with an error naming the file and the offset,
//! and the file is left as it is, so neither the server's start nor a CLI write goes on
//! (appending after the damage would write over the acknowledged records behind it).
//! `decode_all` describes how records an earlier generation left past the end are told
//! apart from those.
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

/// The records of one journal file (none if it does not exist); an error if a record
/// before its end is damaged (see [`decode_all`]).
fn read_rows(path: &Path) -> Result<Vec<Row>> {
    match std::fs::read(path) {
        Ok(bytes) => decode_all(&bytes)
            .map(|d| d.rows)
            .map_err(|d| d.into_error(path)),
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
    /// in order. Appends go after them until [`Journal::reset`]; a torn final record is
    /// dropped (the next append writes over it). A record damaged before the end is an
    /// error, and the file is left as it is (see [`decode_all`]).
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
        let Decoded { rows, end, torn } = decode_all(&bytes).map_err(|d| d.into_error(path))?;
        if torn {
            tracing::warn!(
                path = %path.display(),
                offset = end,
                records = rows.len(),
                "the decision journal ends in a record a crash cut short; it is dropped"
            );
        }
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

    /// Takes the chain lock across processes (see [`lock_and_read`]), waiting at most
    /// `limit`: past it, `Unavailable`.
    pub fn lock_within(&self, limit: std::time::Duration) -> Result<()> {
        let start = std::time::Instant::now();
        let mut pause = std::time::Duration::from_micros(100);
        loop {
            match self.file.try_lock() {
                Ok(()) => return Ok(()),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < limit => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::Unavailable(anyhow::anyhow!(
                        "decision journal {}: another process has held its lock for {} ms",
                        self.path.display(),
                        limit.as_millis()
                    )))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io_error("lock", &self.path, e))
                }
            }
        }
    }

    /// Releases [`Journal::lock_within`].
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
        let grown = self
            .file
            .write_all_at(&zeros, self.allocated)
            .map_err(|e| io_error("extend", &self.path, e))
            // The new size is metadata: one full sync now, none for the appends into it.
            .and_then(|()| {
                self.file
                    .sync_all()
                    .map_err(|e| io_error("sync", &self.path, e))
            });
        if let Err(e) = grown {
            // Give back what part of the growth was written (nothing acknowledged lies
            // past `allocated`): a growth the disk could not take whole must not leave the
            // disk fuller than before, or the next write that would have fit fails too.
            let _ = self.file.set_len(self.allocated);
            return Err(e);
        }
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

/// The smallest payload a record can have: nine empty strings (a `u32` length each), the
/// `seq` and the decision's tag. A length below it cannot start a record.
const MIN_PAYLOAD: usize = 9 * 4 + 8 + 1;

/// What a reader finds at one offset.
enum Next {
    /// The end marker (a zero length), or too few bytes left for a header.
    End,
    /// A whole record that passes its check, and the offset after it.
    Record(Box<Row>, usize),
    /// A record cut short by the end of the file, failing its check, or not decoding.
    Bad,
}

fn next_at(bytes: &[u8], at: usize) -> Next {
    let Some(header) = bytes.get(at..at.saturating_add(HEADER)) else {
        return Next::End;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len == 0 {
        return Next::End;
    }
    let start = at + HEADER;
    let Some(payload) = bytes.get(start..start.saturating_add(len)) else {
        return Next::Bad;
    };
    // The structure first: it turns down most garbage before the payload is hashed (the
    // scan in `current_after` tries every offset of a damaged stretch).
    if len < MIN_PAYLOAD {
        return Next::Bad;
    }
    match decode(payload) {
        Some(row) if header[4..] == check(payload) => Next::Record(Box::new(row), start + len),
        _ => Next::Bad,
    }
}

/// The records of one journal file, as [`decode_all`] reads them.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub rows: Vec<Row>,
    /// Where they end: the offset of the end marker, or of the torn record dropped.
    pub end: usize,
    /// Whether a torn final record was dropped at `end`.
    pub torn: bool,
}

/// A record that fails its check with records of the journal's current contents after it
/// (see [`decode_all`]): acknowledged data is damaged, not a write cut short.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Damaged {
    /// Offset of the first record that fails.
    pub at: usize,
    /// Offset, tenant and `seq` of the first valid record after it that is not older
    /// than the records before it.
    pub next: usize,
    pub tenant: String,
    pub seq: i64,
}

impl Damaged {
    fn into_error(self, path: &Path) -> Error {
        Error::Unavailable(anyhow::anyhow!(
            "decision journal {}: the record at byte {} is damaged (it fails its check) and \
             valid records follow it (the first at byte {}: tenant {}, seq {}), so it is not \
             a write a crash cut short; acknowledged decision events would be lost. The file \
             was left as it is and grantd will not use the journal until it is inspected and \
             restored (from a backup, with the database)",
            path.display(),
            self.at,
            self.next,
            self.tenant,
            self.seq
        ))
    }
}

/// Reads the records from the start of `bytes` up to the end marker, and tells a torn final
/// record from damage before the end.
///
/// At a record that is cut short, fails its check or does not decode, the rest of the
/// file is searched (at every offset) for a valid record that belongs to the journal's
/// current contents. If there is none, the bad record is the last one, torn by a crash
/// during its write (or damaged with nothing after it, which looks the same): it and
/// whatever follows are dropped and the records end where it starts. If there is one, the
/// bad record was followed by others, so it had been written whole and was damaged since:
/// that is `Err`, and nothing is dropped.
///
/// The search must pass over what an earlier generation of the file left behind: the
/// journal is reused after its records are moved into SQLite (see [`Journal::reset`]), so
/// older records lie past the end, and a torn write leaves the old bytes of every block it
/// did not reach. Every such record was placed on its chain before every record of the
/// current contents; a record found past the bad one counts as current unless it is older
/// than the records before the bad one (see [`Prefix::is_current`]).
///
/// One crash is refused too: a torn write whose later blocks reached the disk and an
/// earlier one did not leaves valid records of its (unacknowledged) batch after a bad one,
/// which cannot be told from damage by the bytes alone.
pub(crate) fn decode_all(bytes: &[u8]) -> std::result::Result<Decoded, Damaged> {
    let mut rows = Vec::new();
    let mut at = 0usize;
    loop {
        match next_at(bytes, at) {
            Next::End => {
                return Ok(Decoded {
                    rows,
                    end: at,
                    torn: false,
                })
            }
            Next::Record(row, next) => {
                rows.push(*row);
                at = next;
            }
            Next::Bad => break,
        }
    }
    let prefix = Prefix::of(&rows);
    match current_after(bytes, at + 1, &prefix) {
        None => Ok(Decoded {
            rows,
            end: at,
            torn: true,
        }),
        Some((next, row)) => Err(Damaged {
            at,
            next,
            tenant: row.tenant,
            seq: row.seq,
        }),
    }
}

/// The first valid record from `from` on that [`Prefix::is_current`] takes for the
/// journal's current contents, with its offset.
fn current_after(bytes: &[u8], from: usize, prefix: &Prefix) -> Option<(usize, Row)> {
    let mut at = from;
    while at.saturating_add(HEADER) <= bytes.len() {
        match next_at(bytes, at) {
            Next::Record(row, next) => {
                if prefix.is_current(&row) {
                    return Some((at, *row));
                }
                at = next;
            }
            Next::End | Next::Bad => at += 1,
        }
    }
    None
}

/// What the records before a bad one say about the age of a record found after it.
struct Prefix<'a> {
    /// Each tenant's last `seq` before the bad record.
    last_seq: std::collections::HashMap<&'a str, i64>,
    /// The earliest `at` before the bad record.
    first_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl<'a> Prefix<'a> {
    fn of(rows: &'a [Row]) -> Self {
        let mut last_seq = std::collections::HashMap::new();
        let mut first_at = None;
        for r in rows {
            let seq = last_seq.entry(r.tenant.as_str()).or_insert(r.seq);
            *seq = (*seq).max(r.seq);
            if let Some(at) = crate::clock::parse_ts(&r.at) {
                if first_at.is_none_or(|first| at < first) {
                    first_at = Some(at);
                }
            }
        }
        Prefix { last_seq, first_at }
    }

    /// Whether `r`, found past a bad record, may belong to the current contents rather
    /// than to an earlier generation of the file. Records of earlier generations were all
    /// placed on their chains (and moved into SQLite) before the file was reset, so before
    /// every record of the current contents: of a tenant with records before the bad one,
    /// their `seq` is lower, and a record past those (`seq` above the last) is current.
    /// For another tenant the clock decides: an event's `at` is the time it was placed
    /// (never before its tenant's last), so a record at or after the earliest `at` before
    /// the bad one is current. Without records before the bad one, any valid record is
    /// taken for current: the damage is then refused rather than guessed away.
    fn is_current(&self, r: &Row) -> bool {
        match self.last_seq.get(r.tenant.as_str()) {
            Some(&last) => r.seq > last,
            None => match (self.first_at, crate::clock::parse_ts(&r.at)) {
                (Some(first), Some(at)) => at >= first,
                _ => true,
            },
        }
    }
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
        let d = decode_all(&buf).unwrap();
        assert_eq!(d.rows, vec![row(1, Some("allow")), row(2, None)]);
        assert_eq!((d.end, d.torn), (end, false));
    }

    #[test]
    fn min_payload_is_the_smallest_record() {
        let empty = Row {
            tenant: String::new(),
            seq: 0,
            id: String::new(),
            at: String::new(),
            kind: String::new(),
            subject_type: String::new(),
            subject_id: String::new(),
            decision: None,
            body: String::new(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let mut buf = Vec::new();
        encode(&mut buf, &empty);
        assert_eq!(buf.len() - HEADER, MIN_PAYLOAD);
        assert_eq!(decode_all(&buf).unwrap().rows, vec![empty]);
    }

    #[test]
    fn a_torn_or_corrupt_final_record_ends_the_journal() {
        let mut buf = Vec::new();
        encode(&mut buf, &row(1, None));
        let first = buf.len();
        encode(&mut buf, &row(2, None));
        let whole = buf.clone();
        // torn: the second record is cut short
        let d = decode_all(&whole[..whole.len() - 3]).unwrap();
        assert_eq!((d.rows.len(), d.end, d.torn), (1, first, true));
        // corrupt: one byte of the second record's payload flipped
        let mut bad = whole.clone();
        let i = bad.len() - 2;
        bad[i] ^= 1;
        assert_eq!(decode_all(&bad).unwrap().rows, vec![row(1, None)]);
        // a length running past the end of the file
        let mut long = whole[..first].to_vec();
        long.extend_from_slice(&(1u32 << 30).to_le_bytes());
        long.extend_from_slice(&[0u8; 8]);
        assert_eq!(decode_all(&long).unwrap().rows, vec![row(1, None)]);
    }

    /// An event of `tenant` placed `secs` seconds into the test's day.
    fn event(tenant: &str, seq: i64, secs: i64) -> Row {
        let base = crate::clock::parse_ts("2026-12-02T00:00:00.000000Z").unwrap();
        Row {
            tenant: tenant.into(),
            at: crate::clock::format_ts(&(base + chrono::Duration::seconds(secs))),
            body: format!("{{\"seq\":{seq},\"pad\":\"{}\"}}", "x".repeat(300)),
            ..row(seq, Some("allow"))
        }
    }

    /// The offset of each record in `rows` as a journal holds them from offset 0.
    fn offsets(rows: &[Row]) -> Vec<usize> {
        let mut buf = Vec::new();
        rows.iter()
            .map(|r| {
                let at = buf.len();
                encode(&mut buf, r);
                at
            })
            .collect()
    }

    /// The file a crash leaves when it cuts short a write that turned `before` into
    /// `after`: the new bytes reached the disk up to `cut`, the old ones stay after it.
    fn tear(before: &[u8], after: &[u8], cut: usize) -> Vec<u8> {
        let mut torn = after.to_vec();
        let old = before.len().min(after.len());
        if cut < old {
            torn[cut..old].copy_from_slice(&before[cut..old]);
        }
        // past the old end of the file: the zeros it was extended by
        if let Some(grown) = torn.get_mut(old.max(cut)..) {
            grown.fill(0);
        }
        torn
    }

    /// (1) A record that fails its check with records after it: opening (as `grantd serve`
    /// does) and reading (as the CLI does) fail with an error naming the file and offset,
    /// and the file is not changed. Before, the journal ended there and the next append
    /// wrote over the records after it.
    #[test]
    fn a_damaged_record_before_the_end_is_an_error_and_the_file_is_kept() {
        for direct in [true, false] {
            // the record after the damaged one is another tenant's (told current by its
            // time) or the same tenant's (by its seq)
            for next_tenant in ["u", "t"] {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("db-decisions");
                let (mut j, _) = Journal::open_with(&path, direct).unwrap();
                let rows = vec![
                    event("t", 1, 1),
                    event("t", 2, 2),
                    event("t", 3, 3),
                    event(next_tenant, 4, 4),
                    event("t", 5, 5),
                ];
                j.append(&rows[..2]).unwrap();
                j.append(&rows[2..3]).unwrap();
                j.append(&rows[3..]).unwrap();
                drop(j);
                let at = offsets(&rows);
                let clean = std::fs::read(&path).unwrap();
                // a flipped payload byte, or a length that no longer fits the record
                let mut flipped = clean.clone();
                flipped[at[2] + HEADER + 20] ^= 0x10;
                let mut long = clean.clone();
                long[at[2] + 1] ^= 0x01;
                for damaged in [flipped, long] {
                    std::fs::write(&path, &damaged).unwrap();
                    let Err(e) = Journal::open_with(&path, direct) else {
                        panic!("direct={direct}: the damaged journal opened");
                    };
                    let msg = e.to_string();
                    assert!(msg.contains(&path.display().to_string()), "{msg}");
                    assert!(msg.contains(&format!("record at byte {}", at[2])), "{msg}");
                    assert!(msg.contains(&format!("first at byte {}", at[3])), "{msg}");
                    assert!(msg.contains("left as it is"), "{msg}");
                    let Err(e) = lock_and_read(&path) else {
                        panic!("the CLI read the damaged journal");
                    };
                    assert!(e.to_string().contains("is damaged"), "{e}");
                    assert_eq!(
                        decode_all(&damaged).unwrap_err(),
                        Damaged {
                            at: at[2],
                            next: at[3],
                            tenant: next_tenant.into(),
                            seq: 4
                        }
                    );
                    assert!(std::fs::read(&path).unwrap() == damaged, "the file changed");
                }
            }
        }
    }

    /// (2) A write a crash cut short within its last record: that record is dropped, the
    /// ones before it are read, and appends go on from its start.
    #[test]
    fn a_torn_final_record_is_dropped() {
        for direct in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db-decisions");
            let (mut j, _) = Journal::open_with(&path, direct).unwrap();
            let rows: Vec<Row> = (1..=14).map(|s| event("t", s, s)).collect();
            j.append(&rows[..4]).unwrap();
            let before = std::fs::read(&path).unwrap();
            j.append(&rows[4..]).unwrap();
            drop(j);
            let after = std::fs::read(&path).unwrap();
            let at = offsets(&rows);
            // the cut falls in the last record, or in one before it (the rest of the
            // batch is then torn away too)
            for (cut, kept) in [(at[13] + 100, 13), (at[13] + 3, 13), (at[9] + 250, 9)] {
                std::fs::write(&path, tear(&before, &after, cut)).unwrap();
                let (mut j, found) = Journal::open_with(&path, direct).unwrap();
                assert_eq!(found, rows[..kept], "direct={direct} cut={cut}");
                assert_eq!(j.len() as usize, at[kept]);
                j.append(&[event("t", 99, 99)]).unwrap();
                drop(j);
                let mut expected = rows[..kept].to_vec();
                expected.push(event("t", 99, 99));
                assert_eq!(read_rows(&path).unwrap(), expected);
            }
        }
    }

    /// (3) The last record fails its check and nothing valid follows it: it cannot be told
    /// from a torn one, and is dropped like one.
    #[test]
    fn a_damaged_final_record_with_nothing_after_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-decisions");
        let (mut j, _) = Journal::open(&path).unwrap();
        let rows: Vec<Row> = (1..=3).map(|s| event("t", s, s)).collect();
        j.append(&rows).unwrap();
        drop(j);
        let at = offsets(&rows);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at[2] + HEADER + 5] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let d = decode_all(&bytes).unwrap();
        assert_eq!(
            (d.rows.as_slice(), d.end, d.torn),
            (&rows[..2], at[2], true)
        );
        let (_, found) = Journal::open(&path).unwrap();
        assert_eq!(found, rows[..2]);
        assert_eq!(read_rows(&path).unwrap(), rows[..2]);
    }

    /// (4) After a reset the file is reused: the records of the generation before lie past
    /// the end, and a torn write leaves them in the blocks it did not reach. Those are
    /// older than every current record and do not make a torn record damage: the same
    /// tenant's by their lower seq, another tenant's by their earlier time.
    #[test]
    fn records_an_earlier_generation_left_do_not_make_a_torn_record_damage() {
        for direct in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db-decisions");
            let (mut j, _) = Journal::open_with(&path, direct).unwrap();
            // the older generation: tenants t and u, moved into SQLite, then the reset
            let old: Vec<Row> = (1..=40)
                .flat_map(|s| [event("t", s, s), event("u", s, s)])
                .collect();
            for batch in old.chunks(7) {
                j.append(batch).unwrap();
            }
            j.reset().unwrap();
            // the current contents: t only, later
            let rows: Vec<Row> = (41..=46).map(|s| event("t", s, 100 + s)).collect();
            j.append(&rows[..3]).unwrap();
            let before = std::fs::read(&path).unwrap();
            j.append(&rows[3..]).unwrap();
            drop(j);
            let after = std::fs::read(&path).unwrap();
            let at = offsets(&rows);
            assert_eq!(read_rows(&path).unwrap(), rows, "direct={direct}");
            for cut in [at[5] + 40, at[4] + 300] {
                let torn = tear(&before, &after, cut);
                let kept = if cut > at[5] { 5 } else { 4 };
                // the old generation's records are there past the torn one, as whole records
                let stale = current_after(&torn, at[kept] + 1, &Prefix::of(&[]));
                assert!(
                    stale.is_some(),
                    "direct={direct}: no old records in the test"
                );
                std::fs::write(&path, &torn).unwrap();
                let (_, found) = Journal::open_with(&path, direct).unwrap();
                assert_eq!(found, rows[..kept], "direct={direct} cut={cut}");
            }
            // damage before the end is still refused in a reused file
            let mut damaged = after.clone();
            damaged[at[1] + HEADER + 30] ^= 1;
            assert!(decode_all(&damaged).is_err(), "direct={direct}");
        }
    }

    /// The error reaches start-up: `grantd serve` (`open_serving`) fails, and so does a CLI
    /// process that reads the journal before it writes; neither changes the file.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_damaged_journal_stops_the_server_and_the_cli() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("grantd.db");
        let url = format!("sqlite://{}", db.display());
        let path = Journal::path_for(&db);
        let rows: Vec<Row> = (1..=3).map(|s| event("t", s, s)).collect();
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&rows).unwrap();
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offsets(&rows)[1] + HEADER + 9] ^= 0x08;
        std::fs::write(&path, &bytes).unwrap();
        let Err(e) = crate::store::open_serving(&url).await else {
            panic!("the server started on a damaged journal");
        };
        assert!(e.to_string().contains("is damaged"), "{e}");
        assert!(std::fs::read(&path).unwrap() == bytes, "the file changed");
        let store = crate::store::open(&url).await.unwrap();
        // Any read of the log moves the journal first.
        let any = crate::domain::ids::TenantId::new();
        let filter = crate::store::EventFilter::default();
        let Err(e) = store.list_events(any, &filter, None, 1).await else {
            panic!("the CLI wrote past a damaged journal");
        };
        assert!(e.to_string().contains("is damaged"), "{e}");
        assert!(std::fs::read(&path).unwrap() == bytes, "the file changed");
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
