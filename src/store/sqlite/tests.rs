use super::SqliteStore;
use crate::audit::AuditWriter;
use crate::domain::audit::{Actor, EventKind, NewEvent, Subject};
use crate::store::prelude::*;
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
    appender: Arc<super::appender::Appender>,
    /// The events stored before the backlog was filled.
    before: usize,
    /// The events appended to fill it.
    filled: usize,
    /// The connection holding SQLite's write lock, until `release`.
    blocker: Option<rusqlite::Connection>,
}

impl FullBacklog {
    async fn new() -> FullBacklog {
        use super::appender::{FLUSH_AT, MAX_BACKLOG};
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
    use super::appender::STALL_AFTER;
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

/// A flusher whose last attempt failed (a full disk fails at once) makes a full backlog
/// refuse appends at once, instead of after `STALL_AFTER` of waiting.
#[test]
fn a_failing_flusher_with_a_full_backlog_stalls_at_once() {
    use super::appender::{Chain, MAX_BACKLOG};
    use super::journal::{Journal, Row};
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("j");
    let (j0, _) = Journal::open(&first).unwrap();
    let (j1, _) = Journal::open(&Journal::second_path(&first)).unwrap();
    let row = Row {
        tenant: "t".into(),
        seq: 1,
        id: "e".into(),
        at: "2026-12-07T00:00:00.000000Z".into(),
        kind: "authorize".into(),
        subject_type: "principal".into(),
        subject_id: "User::\"u\"".into(),
        decision: None,
        body: "{}".into(),
        prev_hash: "0".into(),
        hash: "1".into(),
    };
    let mut chain = Chain {
        journals: [j0, j1],
        active: 0,
        pending: vec![row; MAX_BACKLOG],
        inflight: Some(Arc::new(Vec::new())),
        heads: std::collections::HashMap::new(),
        found: Vec::new(),
        seen_version: 0,
        journal_failed: None,
        uncertain: false,
        moved_at: std::time::Instant::now(),
        flush_failed: false,
    };
    assert!(
        !chain.stalled(),
        "a flusher that is merely slow is waited for"
    );
    chain.flush_failed = true;
    assert!(chain.stalled());
    chain.pending.truncate(MAX_BACKLOG - 1);
    assert!(!chain.stalled(), "below a full backlog, appends go on");
}

/// Another process holding the journal's lock (a CLI write, a backup — stopped, say) does
/// not hold decisions without end: the writer waits at most the busy timeout for it, then
/// refuses the batch (503), and appends go on once the lock is free.
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_lock_held_elsewhere_refuses_batches_after_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (concrete, tid, _url) = owning_store_with_tenant(dir.path()).await;
    let store: DynStore = concrete.clone();
    let (audit, writer) = AuditWriter::spawn(store.clone(), 64, 16);
    audit.append(tid, event(0)).await.unwrap();
    let path = super::journal::Journal::path_for(&dir.path().join("grantd.db"));
    let other = std::fs::File::open(&path).unwrap();
    other.lock().unwrap();
    let refused = tokio::time::timeout(super::BUSY_TIMEOUT * 3, audit.append(tid, event(1)))
        .await
        .expect("the writer waited without end for the journal's lock");
    assert!(
        matches!(refused, Err(crate::error::Error::Unavailable(_))),
        "{refused:?}"
    );
    other.unlock().unwrap();
    let next = audit.append(tid, event(2)).await.unwrap();
    assert_eq!(next.seq, 3, "the refused batch took no place on the chain");
    drop(audit);
    writer.await.unwrap();
    store.close().await;
}
