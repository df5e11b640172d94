//! The audit core: a linear hash chain under concurrency, tamper detection, and decision
//! events that are durable before their response.

mod common;

use common::{Backend, TestServer};
use grantd::clock::Clock;
use grantd::domain::audit::{Actor, EventKind, NewEvent, Subject};
use grantd::domain::ids::TenantId;
use std::time::Duration;

fn event(s: &TestServer, n: usize) -> NewEvent {
    NewEvent::new(
        s.clock.now(),
        Actor::cli(),
        EventKind::Authorize,
        Subject::new("principal", format!("User::\"u{n}\"")),
    )
}

async fn verify(s: &TestServer, t: &common::Tenant) -> serde_json::Value {
    let r = s.admin_get(t, "/v1/audit-events/verify").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

backends! {
    #[tokio::test]
    async fn concurrent_appends_make_one_linear_chain() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let other = s.tenant().await;
        let tid: TenantId = t.id.parse().unwrap();
        let oid: TenantId = other.id.parse().unwrap();
        const N: usize = 200;
        let mut tasks = Vec::new();
        for i in 0..N {
            let audit = s.state.services.audit.clone();
            let (tenant, ev) = (if i % 4 == 0 { oid } else { tid }, event(&s, i));
            tasks.push(tokio::spawn(async move { audit.append(tenant, ev).await }));
        }
        // Mutations append in their own transactions, interleaved with the group commits.
        for _ in 0..10 {
            s.key(&t, "auditor").await;
        }
        let mut seqs = Vec::new();
        for task in tasks {
            let ev = task.await.unwrap().expect("appended");
            seqs.push(ev.seq);
        }
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT seq FROM audit_events WHERE CAST(tenant_id AS TEXT) = $1 ORDER BY seq",
        )
        .bind(&t.id)
        .fetch_all(&s.db().await)
        .await
        .unwrap();
        let expected_t = 1 + N - N / 4 + 10; // first key + events + 10 key creations
        assert_eq!(rows.len(), expected_t);
        assert!(rows
            .iter()
            .enumerate()
            .all(|(i, (seq,))| *seq == i as i64 + 1));
        let rep = verify(&s, &t).await;
        assert_eq!(rep["ok"], true, "{rep}");
        assert_eq!(rep["events"], expected_t);
        assert_eq!(rep["head_seq"], expected_t);
        let rep = verify(&s, &other).await;
        assert_eq!(rep["ok"], true, "{rep}");
        assert_eq!(rep["events"], 1 + N / 4);
    }

    #[tokio::test]
    async fn verify_reports_an_edited_event() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        for _ in 0..4 {
            s.key(&t, "auditor").await;
        }
        assert_eq!(verify(&s, &t).await["ok"], true);
        let db = s.db().await;
        let (id, body): (String, String) = sqlx::query_as(
            "SELECT CAST(id AS TEXT), body FROM audit_events
             WHERE CAST(tenant_id AS TEXT) = $1 AND seq = 3",
        )
        .bind(&t.id)
        .fetch_one(&db)
        .await
        .unwrap();
        sqlx::query("UPDATE audit_events SET body = $1 WHERE CAST(id AS TEXT) = $2")
            .bind(body.replace("auditor", "admin"))
            .bind(&id)
            .execute(&db)
            .await
            .unwrap();
        let rep = verify(&s, &t).await;
        assert_eq!(rep["ok"], false, "{rep}");
        assert_eq!(rep["first_bad"], id.as_str());
        // Editing only an indexed column is caught as well.
        sqlx::query("UPDATE audit_events SET body = $1 WHERE CAST(id AS TEXT) = $2")
            .bind(&body)
            .bind(&id)
            .execute(&db)
            .await
            .unwrap();
        assert_eq!(verify(&s, &t).await["ok"], true);
        sqlx::query("UPDATE audit_events SET kind = 'key.revoke' WHERE CAST(id AS TEXT) = $1")
            .bind(&id)
            .execute(&db)
            .await
            .unwrap();
        let rep = verify(&s, &t).await;
        assert_eq!(rep["first_bad"], id.as_str(), "{rep}");
    }

    #[tokio::test]
    async fn verify_reports_a_missing_event() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        for _ in 0..4 {
            s.key(&t, "auditor").await;
        }
        let before = verify(&s, &t).await;
        let db = s.db().await;
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT CAST(id AS TEXT) FROM audit_events
             WHERE CAST(tenant_id AS TEXT) = $1 ORDER BY seq",
        )
        .bind(&t.id)
        .fetch_all(&db)
        .await
        .unwrap();
        sqlx::query("DELETE FROM audit_events WHERE CAST(id AS TEXT) = $1")
            .bind(&ids[2].0)
            .execute(&db)
            .await
            .unwrap();
        let rep = verify(&s, &t).await;
        assert_eq!(rep["ok"], false, "{rep}");
        // the first event whose predecessor is missing
        assert_eq!(rep["first_bad"], ids[3].0.as_str());
        // deleting the tail is caught against the recorded head
        let s2 = TestServer::start().await;
        let t2 = s2.tenant().await;
        s2.key(&t2, "auditor").await;
        let db2 = s2.db().await;
        sqlx::query("DELETE FROM audit_events WHERE CAST(tenant_id AS TEXT) = $1 AND seq = 2")
            .bind(&t2.id)
            .execute(&db2)
            .await
            .unwrap();
        let rep = verify(&s2, &t2).await;
        assert_eq!(rep["ok"], false, "{rep}");
        assert_eq!(before["ok"], true);
    }

    #[tokio::test]
    async fn a_decision_response_waits_until_its_event_is_durable() {
        let s = TestServer::start().await;
        let a = s.tenant().await;
        let b = s.tenant().await;
        let pause = s.state.services.audit.pause();
        let req = s
            .client
            .get(format!("{}/v1/keys", s.base))
            .header("X-API-Key", &a.admin_key)
            .header("X-Tenant-ID", &b.id)
            .send();
        let pending = tokio::spawn(req);
        // While the writer is stalled the response does not come, and nothing is written.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !pending.is_finished(),
            "the response left before its event was durable"
        );
        assert!(s
            .events(&a.id)
            .await
            .iter()
            .all(|(k, _)| k != "auth.tenant_mismatch"));
        drop(pause);
        let resp = TestServer::read(pending.await.unwrap().unwrap()).await;
        resp.assert_error(403, "tenant_mismatch");
        assert_eq!(
            s.events(&a.id)
                .await
                .iter()
                .filter(|(k, _)| k == "auth.tenant_mismatch")
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn a_full_queue_applies_backpressure_and_drops_nothing() {
        let s = TestServer::start_with(|c| {
            c.audit_queue_capacity = 2;
            c.audit_batch_max = 3;
        })
        .await;
        let t = s.tenant().await;
        let tid: TenantId = t.id.parse().unwrap();
        let pause = s.state.services.audit.pause();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let audit = s.state.services.audit.clone();
            let ev = event(&s, i);
            tasks.push(tokio::spawn(async move { audit.append(tid, ev).await }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(tasks.iter().all(|t| !t.is_finished()));
        drop(pause);
        for task in tasks {
            task.await.unwrap().expect("every event is committed");
        }
        let rep = verify(&s, &t).await;
        assert_eq!(rep["ok"], true);
        assert_eq!(rep["events"], 21);
    }

    #[tokio::test]
    async fn shutdown_drains_in_flight_decisions() {
        let mut s = TestServer::start().await;
        let a = s.tenant().await;
        let b = s.tenant().await;
        let pause = s.state.services.audit.pause();
        let mut pending = Vec::new();
        for _ in 0..5 {
            let req = s
                .client
                .get(format!("{}/v1/keys", s.base))
                .header("X-API-Key", &a.admin_key)
                .header("X-Tenant-ID", &b.id)
                .send();
            pending.push(tokio::spawn(req));
        }
        // Wait until the requests are in the writer's hands: one taken off the queue (held
        // by the pause), the other four queued.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while s.state.services.audit.queued() < 4 {
            assert!(
                std::time::Instant::now() < deadline,
                "requests never reached the writer"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        s.stop();
        drop(pause);
        for p in pending {
            let r = TestServer::read(p.await.unwrap().unwrap()).await;
            r.assert_error(403, "tenant_mismatch");
        }
        assert_eq!(
            s.events(&a.id)
                .await
                .iter()
                .filter(|(k, _)| k == "auth.tenant_mismatch")
                .count(),
            5
        );
        // New connections are refused after shutdown.
        tokio::time::timeout(Duration::from_secs(5), async {
            while s
                .client
                .get(format!("{}/healthz", s.base))
                .send()
                .await
                .is_ok()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("server stops accepting");
    }
}

/// Rows of the tenant in `table`, read on a connection of its own (no settling first).
async fn raw_count(s: &TestServer, table: &str, tenant: &str) -> i64 {
    let db = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&s.db_url)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_one(&db)
    .await
    .unwrap();
    db.close().await;
    n
}

// SQLite only: the SQLite store's decision journal.
/// Decision events are made durable in the SQLite store's decision journal first and moved
/// into `audit_events` later. Whatever reads the log finds them: verification, listing and
/// pruning move them first, and so does another store on the file (as the CLI opens it),
/// from the journal file.
#[tokio::test(flavor = "multi_thread")]
async fn journaled_decision_events_are_verified_listed_and_pruned() {
    // (the expiry sweep is a write transaction, which would move the journal meanwhile)
    let s = TestServer::start_with(|c| c.sweep_interval = Duration::from_secs(3600)).await;
    let now = s.clock.now();
    s.clock.set(now - chrono::Duration::days(40));
    let t = s.tenant().await; // its first key's event, 40 days ago
    let tid: TenantId = t.id.parse().unwrap();
    let audit = &s.state.services.audit;
    for i in 0..5 {
        audit.append(tid, event(&s, i)).await.unwrap();
    }
    s.clock.set(now);
    for i in 5..10 {
        audit.append(tid, event(&s, i)).await.unwrap();
    }
    // Acknowledged, and only in the journal so far.
    assert_eq!(raw_count(&s, "audit_events", &t.id).await, 1);

    let rep = verify(&s, &t).await;
    assert_eq!(rep["ok"], true, "{rep}");
    assert_eq!(rep["events"], 11);
    assert_eq!(raw_count(&s, "audit_events", &t.id).await, 11);

    // Retention prunes the five old decisions with the key event.
    audit.append(tid, event(&s, 10)).await.unwrap();
    let pruned = grantd::audit::prune(&s.state.services.store, now, 30)
        .await
        .unwrap();
    assert_eq!(pruned, 6);
    let rep = verify(&s, &t).await;
    assert_eq!(rep["ok"], true, "{rep}");
    assert_eq!(rep["events"], 6);

    // A mutation's event lands between journaled decisions, on the same chain.
    audit.append(tid, event(&s, 11)).await.unwrap();
    s.key(&t, "auditor").await;
    audit.append(tid, event(&s, 12)).await.unwrap();

    // Another store on the same file (as the CLI would open it) lists all of them in
    // order: it moves what the server journaled, from the journal file.
    let other = grantd::store::sqlite::SqliteStore::connect(&s.db_url)
        .await
        .unwrap();
    let listed = grantd::store::AuditStore::list_events(
        &other,
        tid,
        &grantd::store::EventFilter::default(),
        None,
        100,
    )
    .await
    .unwrap();
    let seqs: Vec<i64> = listed.iter().map(|e| e.content.seq).collect();
    assert_eq!(seqs, (7..=15).collect::<Vec<_>>());
    let kinds: Vec<&str> = listed.iter().map(|e| e.content.kind.as_str()).collect();
    assert_eq!(kinds[6..], ["authorize", "key.create", "authorize"]);
    assert_eq!(raw_count(&s, "audit_events", &t.id).await, 9);

    // The server goes on after the other store's write, on the head it left.
    audit.append(tid, event(&s, 13)).await.unwrap();
    // The other store appends (its decisions go through its pool) while the server has
    // journaled events it has not moved: it takes them from the journal first.
    audit.append(tid, event(&s, 14)).await.unwrap();
    grantd::store::AuditStore::append_events(&other, vec![(tid, event(&s, 15))])
        .await
        .unwrap();
    audit.append(tid, event(&s, 16)).await.unwrap();
    grantd::store::Store::close(&other).await;
    let rep = verify(&s, &t).await;
    assert_eq!(rep["ok"], true, "{rep}");
    assert_eq!(rep["events"], 13);
}

// SQLite only: the SQLite store's decision journal.
/// The writer moves the journal into `audit_events` itself once it holds a few thousand
/// events, so it stays small without any read.
#[tokio::test(flavor = "multi_thread")]
async fn the_writer_moves_a_full_journal() {
    let s = TestServer::start().await;
    let t = s.tenant().await;
    let tid: TenantId = t.id.parse().unwrap();
    const N: usize = 2_500; // more than the appender's FLUSH_AT (2,048)
    let mut tasks = Vec::new();
    for i in 0..N {
        let audit = s.state.services.audit.clone();
        let ev = event(&s, i);
        tasks.push(tokio::spawn(async move { audit.append(tid, ev).await }));
    }
    for task in tasks {
        task.await.unwrap().expect("appended");
    }
    // The writer hands the full journal file to the flusher thread after it has answered
    // the batch that filled it; the flusher moves it while the writer goes on.
    s.state
        .services
        .audit
        .append(tid, event(&s, N))
        .await
        .expect("appended");
    let mut moved = 0;
    for _ in 0..500 {
        moved = raw_count(&s, "audit_events", &t.id).await;
        if moved >= 2048 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first 2,048 were moved without any read; the rest wait for the next full file.
    assert!(
        (2048..2 + N as i64).contains(&moved),
        "{moved} events in audit_events"
    );
    let rep = verify(&s, &t).await;
    assert_eq!(rep["ok"], true, "{rep}");
    assert_eq!(rep["events"], 2 + N as i64);
}

// SQLite only: the SQLite store's files and decision journal.
/// A crash (here: the files copied as they are on disk while the server runs) leaves
/// acknowledged decisions in the journal only; the next start replays them onto their
/// chains, once, and the chain verifies.
#[tokio::test(flavor = "multi_thread")]
async fn a_restart_replays_the_journal() {
    let s = TestServer::start_with(|c| c.sweep_interval = Duration::from_secs(3600)).await;
    let t = s.tenant().await;
    let tid: TenantId = t.id.parse().unwrap();
    let audit = &s.state.services.audit;
    for i in 0..5 {
        audit.append(tid, event(&s, i)).await.unwrap();
    }
    s.key(&t, "auditor").await; // moves the five, then its own event
    for i in 5..12 {
        audit.append(tid, event(&s, i)).await.unwrap();
    }
    assert_eq!(raw_count(&s, "audit_events", &t.id).await, 7);

    let db = s.db_url.trim_start_matches("sqlite://").to_string();
    let copy = tempfile::tempdir().unwrap();
    let copied = copy.path().join("grantd.db");
    for suffix in ["", "-wal", "-decisions", "-decisions-1"] {
        let from = format!("{db}{suffix}");
        if std::path::Path::new(&from).exists() {
            std::fs::copy(&from, format!("{}{suffix}", copied.display())).unwrap();
        }
    }
    let url = format!("sqlite://{}", copied.display());
    for _ in 0..2 {
        // the second start finds nothing new to replay
        let store = grantd::store::open_serving(&url).await.unwrap();
        let rep = store.verify_chain(tid).await.unwrap();
        assert!(rep.ok, "{rep:?}");
        assert_eq!(rep.events, 14);
        store.close().await;
    }
    let store = grantd::store::open(&url).await.unwrap();
    let listed = store
        .list_events(tid, &grantd::store::EventFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|e| e.content.seq).collect::<Vec<_>>(),
        (1..=14).collect::<Vec<_>>()
    );
    store.close().await;
}

/// Another store on the server's database, as the CLI opens it (SQLite: without the decision
/// journal, which the server owns).
async fn other_store(s: &TestServer) -> grantd::store::DynStore {
    match s.backend {
        Backend::Sqlite => std::sync::Arc::new(
            grantd::store::sqlite::SqliteStore::connect(&s.db_url)
                .await
                .unwrap(),
        ),
        Backend::Postgres => grantd::store::open(&s.db_url).await.unwrap(),
    }
}

backends! {
    /// Another store on the database (as the CLI opens it) appending while the server
    /// decides (on SQLite: journals decisions and moves a full journal file meanwhile): one
    /// linear chain with every event on it.
    #[tokio::test(flavor = "multi_thread")]
    async fn another_store_appending_during_decisions_keeps_one_chain() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let tid: TenantId = t.id.parse().unwrap();
        let other = other_store(&s).await;
        const N: usize = 2_600; // past FLUSH_AT: the flusher moves a journal file meanwhile
        const M: usize = 20;
        let foreign_events: Vec<NewEvent> = (0..M).map(|i| event(&s, 1000 + i)).collect();
        let o = other.clone();
        let foreign = tokio::spawn(async move {
            for ev in foreign_events {
                grantd::store::AuditStore::append_events(&*o, vec![(tid, ev)])
                    .await
                    .expect("the other store appends");
            }
        });
        let mut tasks = Vec::new();
        for i in 0..N {
            let audit = s.state.services.audit.clone();
            let ev = event(&s, i);
            tasks.push(tokio::spawn(async move { audit.append(tid, ev).await }));
            if i % 200 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        for task in tasks {
            task.await.unwrap().expect("appended");
        }
        foreign.await.unwrap();
        grantd::store::Store::close(&*other).await;
        let rep = verify(&s, &t).await;
        assert_eq!(rep["ok"], true, "{rep}");
        assert_eq!(rep["events"], (1 + N + M) as i64);
    }
}
