//! The audit core: a linear hash chain under concurrency, tamper detection, and decision
//! events that are durable before their response.

mod common;

use common::TestServer;
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
        seqs.push(ev.content.seq);
    }
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT seq FROM audit_events WHERE tenant_id = $1 ORDER BY seq")
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
    let (id, body): (String, String) =
        sqlx::query_as("SELECT id, body FROM audit_events WHERE tenant_id = $1 AND seq = 3")
            .bind(&t.id)
            .fetch_one(&db)
            .await
            .unwrap();
    sqlx::query("UPDATE audit_events SET body = $1 WHERE id = $2")
        .bind(body.replace("auditor", "admin"))
        .bind(&id)
        .execute(&db)
        .await
        .unwrap();
    let rep = verify(&s, &t).await;
    assert_eq!(rep["ok"], false, "{rep}");
    assert_eq!(rep["first_bad"], id.as_str());
    // Editing only an indexed column is caught as well.
    sqlx::query("UPDATE audit_events SET body = $1 WHERE id = $2")
        .bind(&body)
        .bind(&id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(verify(&s, &t).await["ok"], true);
    sqlx::query("UPDATE audit_events SET kind = 'key.revoke' WHERE id = $1")
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
    let ids: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM audit_events WHERE tenant_id = $1 ORDER BY seq")
            .bind(&t.id)
            .fetch_all(&db)
            .await
            .unwrap();
    sqlx::query("DELETE FROM audit_events WHERE id = $1")
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
    sqlx::query("DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 2")
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
