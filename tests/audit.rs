//! Audit for auditors: every event kind on record with its fields, the read API, and
//! retention that keeps the chain verifiable.

mod common;

use common::{send_on_behalf as send, TestServer};
use grantd::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn entities() -> Value {
    json!([
        {"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "User", "id": "bob"}, "attrs": {}, "parents": []},
        {"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []}
    ])
}

fn permit_eng() -> Value {
    json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [
        {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
         "action_scope_type": "any", "resource_scope_type": "any", "notice": "engineers welcome"}]})
}

backends! {
    #[tokio::test]
    async fn every_kind_is_on_record_once_with_its_fields() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let other = s.tenant().await;
        let admin = t.admin_key.clone();
        let a = |m: Method, p: &str, b: Option<Value>| {
            let (s, t, admin) = (&s, &t, admin.clone());
            let p = p.to_string();
            async move { send(s, &admin, t, m, &p, b, "ops@example.com").await }
        };
        let base = s.events(&t.id).await.len(); // the first key's key.create
        assert_eq!(base, 1);
        // key.create, key.revoke
        let k = a(Method::POST, "/v1/keys", Some(json!({"role": "requester"}))).await;
        let req_key = k.body["key"].as_str().unwrap().to_string();
        let spare = a(Method::POST, "/v1/keys", Some(json!({"role": "auditor"})))
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_string();
        a(Method::DELETE, &format!("/v1/keys/{spare}"), None).await;
        // schema.update, entities.update, entities.delete
        let schema = std::fs::read_to_string(common::policies_dir().join("schema.cedarschema"))
            .unwrap()
            + "\nentity Device;\n";
        assert_eq!(
            a(
                Method::PUT,
                "/v1/schema",
                Some(json!({"cedarschema": schema}))
            )
            .await
            .status,
            200
        );
        a(Method::PUT, "/v1/entities", Some(entities())).await;
        a(Method::DELETE, "/v1/entities/User/bob", None).await;
        // policy.create, policy.update, policy.delete
        let p = a(Method::POST, "/v1/policies", Some(permit_eng()))
            .await
            .body;
        a(
            Method::PATCH,
            "/v1/policies/eng",
            Some(json!({"priority": 3})),
        )
        .await;
        let tmp = a(
            Method::POST,
            "/v1/policies",
            Some(json!({"key": "tmp", "name": "tmp", "max_duration_seconds": 5})),
        )
        .await
        .body;
        a(Method::DELETE, "/v1/policies/tmp", None).await;
        // authorize
        let r = |m: Method, path: &str, b: Option<Value>| {
            let (s, t, key) = (&s, &t, req_key.clone());
            let path = path.to_string();
            async move { send(s, &key, t, m, &path, b, "alice@example.com").await }
        };
        let d = r(
            Method::POST,
            "/v1/authorize",
            Some(json!({"principal": {"type": "User", "id": "alice"},
            "action": {"type": "Action", "id": "request"}, "resource": {"type": "App", "id": "github"},
            "context": {"scopes": [], "reason": "", "extension_count": 0}})),
        )
        .await;
        assert_eq!(d.body["decision"], "allow");
        // grant.request, grant.extend, grant.update, grant.revoke, grant.expire
        let g1 = r(
            Method::POST,
            "/v1/grants",
            Some(json!({"principal": {"type": "User", "id": "alice"},
            "resource": {"type": "App", "id": "github"}, "duration_seconds": 600})),
        )
        .await
        .body;
        let g1id = g1["id"].as_str().unwrap().to_string();
        r(
            Method::POST,
            &format!("/v1/grants/{g1id}/extend"),
            Some(json!({"duration_seconds": 900})),
        )
        .await;
        r(
            Method::PUT,
            &format!("/v1/grants/{g1id}"),
            Some(json!({"scopes": ["read"]})),
        )
        .await;
        r(
            Method::POST,
            &format!("/v1/grants/{g1id}/revoke"),
            Some(json!({"reason": "done"})),
        )
        .await;
        let g2 = r(
            Method::POST,
            "/v1/grants",
            Some(json!({"principal": {"type": "User", "id": "alice"},
            "resource": {"type": "App", "id": "github"}, "duration_seconds": 60})),
        )
        .await
        .body;
        s.clock.advance(chrono::Duration::seconds(61));
        grantd::service::grants::sweep(&s.state.services.store, s.clock.now())
            .await
            .unwrap();
        // auth.tenant_mismatch
        send(
            &s,
            &req_key,
            &other,
            Method::GET,
            "/v1/grants/x",
            None,
            "mallory",
        )
        .await
        .assert_error(403, "tenant_mismatch");

        let events = s.events(&t.id).await;
        let one = |kind: &str| -> Value {
            let v: Vec<&Value> = events
                .iter()
                .filter(|(k, _)| k == kind)
                .map(|(_, e)| e)
                .collect();
            assert_eq!(v.len(), 1, "exactly one {kind}: {v:?}");
            v[0].clone()
        };
        // two grant requests: one to change, one to expire
        assert_eq!(
            events.iter().filter(|(k, _)| k == "grant.request").count(),
            2
        );
        let kinds = [
            "authorize",
            "grant.extend",
            "grant.update",
            "grant.revoke",
            "grant.expire",
            "policy.update",
            "policy.delete",
            "schema.update",
            "entities.delete",
            "key.revoke",
            "auth.tenant_mismatch",
        ];
        for k in kinds {
            let e = one(k);
            assert!(
                e["actor"]["key_id"].is_string() && e["actor"]["role"].is_string(),
                "{k}: {e}"
            );
            assert!(
                e["subject"]["type"].is_string() && e["subject"]["id"].is_string(),
                "{k}: {e}"
            );
            assert!(
                e["seq"].is_i64() && e["id"].is_string() && e["at"].is_string(),
                "{k}: {e}"
            );
        }
        let entity_updates = events
            .iter()
            .filter(|(k, _)| k == "entities.update")
            .count();
        assert_eq!(entity_updates, 4, "one per entity");
        assert_eq!(events.iter().filter(|(k, _)| k == "key.create").count(), 3);
        // subjects
        let creates: Vec<&Value> = events
            .iter()
            .filter(|(k, _)| k == "policy.create")
            .map(|(_, e)| e)
            .collect();
        assert_eq!(creates.len(), 2, "eng and tmp");
        assert_eq!(
            creates[0]["subject"],
            json!({"type": "policy", "id": p["id"]})
        );
        assert_eq!(creates[0]["request"]["policy"]["key"], "eng");
        assert_eq!(
            one("policy.delete")["subject"],
            json!({"type": "policy", "id": tmp["id"]})
        );
        assert_eq!(
            one("schema.update")["subject"],
            json!({"type": "schema", "id": t.id})
        );
        assert_eq!(
            one("entities.delete")["subject"],
            json!({"type": "entity", "id": "User::\"bob\""})
        );
        assert_eq!(
            one("key.revoke")["subject"],
            json!({"type": "key", "id": spare})
        );
        assert_eq!(
            one("grant.expire")["subject"],
            json!({"type": "grant", "id": g2["id"]})
        );
        assert_eq!(one("auth.tenant_mismatch")["subject"]["type"], "key");
        assert_eq!(
            one("authorize")["subject"],
            json!({"type": "principal", "id": "User::\"alice\""})
        );
        // actors
        assert_eq!(
            one("policy.update")["actor"]["on_behalf_of"],
            "ops@example.com"
        );
        assert_eq!(one("policy.update")["actor"]["role"], "admin");
        assert_eq!(one("grant.revoke")["actor"]["role"], "requester");
        assert_eq!(
            one("grant.revoke")["actor"]["on_behalf_of"],
            "alice@example.com"
        );
        assert_eq!(one("grant.expire")["actor"]["role"], "system");
        // decisions carry their decision, determining rules, notices and version
        let first_request = events
            .iter()
            .find(|(k, _)| k == "grant.request")
            .unwrap()
            .1
            .clone();
        assert_eq!(
            first_request["subject"],
            json!({"type": "grant", "id": g1id})
        );
        for (k, e) in ["authorize", "grant.extend", "grant.update"]
            .map(|k| (k, one(k)))
            .into_iter()
            .chain([("grant.request", first_request)])
        {
            assert_eq!(e["decision"], "allow", "{k}");
            assert_eq!(e["determining"][0]["rule_id"], p["rules"][0]["id"], "{k}");
            assert_eq!(e["notices"], json!(["engineers welcome"]), "{k}");
            assert!(e["policy_set_version"].is_i64(), "{k}");
        }
        let verify = send(
            &s,
            &admin,
            &t,
            Method::GET,
            "/v1/audit-events/verify",
            None,
            "",
        )
        .await;
        assert_eq!(verify.body["ok"], true, "{}", verify.text);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn n_concurrent_decisions_make_n_events() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        send(
            &s,
            &t.admin_key,
            &t,
            Method::PUT,
            "/v1/entities",
            Some(entities()),
            "",
        )
        .await;
        send(
            &s,
            &t.admin_key,
            &t,
            Method::POST,
            "/v1/policies",
            Some(permit_eng()),
            "",
        )
        .await;
        const N: usize = 60;
        let mut tasks = Vec::new();
        for i in 0..N {
            let (client, base, key, tenant) = (
                s.client.clone(),
                s.base.clone(),
                t.admin_key.clone(),
                t.id.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let user = if i % 2 == 0 { "alice" } else { "bob" };
                client.post(format!("{base}/v1/authorize")).header("X-API-Key", key).header("X-Tenant-ID", tenant)
                    .json(&json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "request"},
                        "resource": {"type": "App", "id": "github"}, "context": {"scopes": [], "reason": "", "extension_count": 0}}))
                    .send().await.unwrap().status()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        let events = s.events(&t.id).await;
        assert_eq!(events.iter().filter(|(k, _)| k == "authorize").count(), N);
        assert_eq!(
            events
                .iter()
                .filter(|(k, e)| k == "authorize" && e["decision"] == "deny")
                .count(),
            N / 2
        );
        let v = send(
            &s,
            &t.admin_key,
            &t,
            Method::GET,
            "/v1/audit-events/verify",
            None,
            "",
        )
        .await;
        assert_eq!(v.body["ok"], true);
    }

    #[tokio::test]
    async fn the_read_api_filters_and_pages() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let auditor = s.key(&t, "auditor").await;
        let admin = t.admin_key.clone();
        send(
            &s,
            &admin,
            &t,
            Method::PUT,
            "/v1/entities",
            Some(entities()),
            "",
        )
        .await;
        send(
            &s,
            &admin,
            &t,
            Method::POST,
            "/v1/policies",
            Some(permit_eng()),
            "",
        )
        .await;
        let decide = |user: &'static str| {
            let (s, t, admin) = (&s, &t, admin.clone());
            async move {
                send(s, &admin, t, Method::POST, "/v1/authorize", Some(json!({"principal": {"type": "User", "id": user},
                    "action": {"type": "Action", "id": "request"}, "resource": {"type": "App", "id": "github"},
                    "context": {"scopes": [], "reason": "", "extension_count": 0}})), "").await
            }
        };
        let start = s.clock.now();
        decide("bob").await;
        s.clock.advance(chrono::Duration::days(8));
        let week_ago = grantd::clock::format_ts(&(s.clock.now() - chrono::Duration::days(7)));
        for _ in 0..3 {
            decide("bob").await;
            decide("alice").await;
        }
        let get = |q: String| {
            let (s, t, auditor) = (&s, &t, auditor.clone());
            async move {
                send(
                    s,
                    &auditor,
                    t,
                    Method::GET,
                    &format!("/v1/audit-events{q}"),
                    None,
                    "",
                )
                .await
            }
        };
        // every denied request of bob in the last week, with the notices he saw
        let bob = "User%3A%3A%22bob%22";
        let r = get(format!("?subject={bob}&decision=deny&since={week_ago}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        assert!(items.iter().all(|e| e["decision"] == "deny"
            && e["subject"]["id"] == "User::\"bob\""
            && e["hash"].is_string()));
        // by subject: bob's four decisions and the entity write that created him
        let r = get(format!("?subject={bob}")).await;
        let kinds: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "entities.update",
                "authorize",
                "authorize",
                "authorize",
                "authorize"
            ]
        );
        let r = get(format!(
            "?kind=authorize&until={}",
            grantd::clock::format_ts(&(start + chrono::Duration::days(1)))
        ))
        .await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        let r = get("?kind=policy.create".into()).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        // pages in seq order, each event once
        let mut seqs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let q = match &token {
                Some(tok) => format!("?per_page=4&next_page_token={tok}"),
                None => "?per_page=4".into(),
            };
            let r = get(q).await;
            seqs.extend(
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["seq"].as_i64().unwrap()),
            );
            match r.body["next_page_token"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        let total = s.events(&t.id).await.len() as i64;
        assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
        // bad parameters
        for q in [
            "?kind=nope",
            "?since=yesterday",
            "?decision=maybe",
            "?per_page=0",
            "?colour=red",
            "?next_page_token=x.y",
        ] {
            get(q.into()).await.assert_error(400, "invalid_input");
        }
        // another tenant sees none of it
        let other = s.tenant().await;
        let r = send(
            &s,
            &other.admin_key,
            &other,
            Method::GET,
            &format!("/v1/audit-events?subject={bob}"),
            None,
            "",
        )
        .await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    }

    #[tokio::test]
    async fn retention_prunes_and_the_chain_still_verifies() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        for _ in 0..5 {
            s.key(&t, "auditor").await;
        }
        s.clock.advance(chrono::Duration::days(40));
        for _ in 0..4 {
            s.key(&t, "auditor").await;
        }
        let before = s.events(&t.id).await;
        assert_eq!(before.len(), 10);
        let store = &s.state.services.store;
        let pruned = grantd::audit::prune(store, s.clock.now(), 30)
            .await
            .unwrap();
        assert_eq!(pruned, 6);
        let after = s.events(&t.id).await;
        assert_eq!(after.len(), 4);
        let v = send(
            &s,
            &t.admin_key,
            &t,
            Method::GET,
            "/v1/audit-events/verify",
            None,
            "",
        )
        .await;
        assert_eq!(v.body["ok"], true, "{}", v.text);
        assert_eq!(v.body["events"], 4);
        assert_eq!(v.body["head_seq"], 10);
        assert_eq!(
            grantd::audit::prune(store, s.clock.now(), 30)
                .await
                .unwrap(),
            0
        );
        // what remains is still protected: an edit, then a deletion, are caught
        let db = s.db().await;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CAST(id AS TEXT), seq FROM audit_events
             WHERE CAST(tenant_id AS TEXT) = $1 ORDER BY seq",
        )
        .bind(&t.id)
        .fetch_all(&db)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE audit_events SET body = replace(body, 'auditor', 'admin')
             WHERE CAST(id AS TEXT) = $1",
        )
        .bind(&rows[1].0)
        .execute(&db)
        .await
        .unwrap();
        let v = send(
            &s,
            &t.admin_key,
            &t,
            Method::GET,
            "/v1/audit-events/verify",
            None,
            "",
        )
        .await;
        assert_eq!(v.body["ok"], false);
        assert_eq!(v.body["first_bad"], rows[1].0.as_str());
        sqlx::query("DELETE FROM audit_events WHERE CAST(id AS TEXT) = $1")
            .bind(&rows[1].0)
            .execute(&db)
            .await
            .unwrap();
        let v = send(
            &s,
            &t.admin_key,
            &t,
            Method::GET,
            "/v1/audit-events/verify",
            None,
            "",
        )
        .await;
        assert_eq!(v.body["ok"], false);
        assert_eq!(v.body["first_bad"], rows[2].0.as_str());
        // deleting the first remaining event (right after the anchor) is caught too
        let s2 = TestServer::start().await;
        let t2 = s2.tenant().await;
        s2.key(&t2, "auditor").await;
        s2.clock.advance(chrono::Duration::days(40));
        s2.key(&t2, "auditor").await;
        s2.key(&t2, "auditor").await;
        grantd::audit::prune(&s2.state.services.store, s2.clock.now(), 30)
            .await
            .unwrap();
        let db2 = s2.db().await;
        sqlx::query("DELETE FROM audit_events WHERE CAST(tenant_id AS TEXT) = $1 AND seq = 3")
            .bind(&t2.id)
            .execute(&db2)
            .await
            .unwrap();
        let v = send(
            &s2,
            &t2.admin_key,
            &t2,
            Method::GET,
            "/v1/audit-events/verify",
            None,
            "",
        )
        .await;
        assert_eq!(v.body["ok"], false, "{}", v.text);
    }

    #[tokio::test]
    async fn event_times_never_go_backwards_along_the_chain() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        s.clock.advance(chrono::Duration::hours(1));
        s.key(&t, "auditor").await;
        let later = s.clock.now();
        s.clock.set(later - chrono::Duration::days(1));
        s.key(&t, "auditor").await;
        let events = s.events(&t.id).await;
        let ats: Vec<String> = events
            .iter()
            .map(|(_, e)| e["at"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ats[2], ats[1], "stamped no earlier than its predecessor");
        // so a time window is exact: nothing is before `later`, both are from it on
        let q = format!(
            "/v1/audit-events?kind=key.create&since={}",
            grantd::clock::format_ts(&later)
        );
        let r = send(&s, &t.admin_key, &t, Method::GET, &q, None, "").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{}", r.text);
        let q = format!(
            "/v1/audit-events?until={}",
            grantd::clock::format_ts(&later)
        );
        let r = send(&s, &t.admin_key, &t, Method::GET, &q, None, "").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
        let v = send(
            &s,
            &t.admin_key,
            &t,
            Method::GET,
            "/v1/audit-events/verify",
            None,
            "",
        )
        .await;
        assert_eq!(v.body["ok"], true);
    }
}

// SQLite only: chains from before SQLite migration 0006 (PostgreSQL's never were unordered).
#[tokio::test]
async fn time_windows_stay_exact_on_chains_written_before_times_were_ordered() {
    let s = TestServer::start().await;
    let t = s.tenant().await;
    for _ in 0..3 {
        s.key(&t, "auditor").await;
        s.clock.advance(chrono::Duration::minutes(1));
    }
    // A chain from before migration 0006: seq 3 was stamped after seq 4.
    let db = s.db().await;
    let (at4,): (String,) =
        sqlx::query_as("SELECT at FROM audit_events WHERE tenant_id = $1 AND seq = 4")
            .bind(&t.id)
            .fetch_one(&db)
            .await
            .unwrap();
    let later = grantd::clock::format_ts(
        &(grantd::clock::parse_ts(&at4).unwrap() + chrono::Duration::seconds(30)),
    );
    sqlx::query("UPDATE audit_events SET at = $1 WHERE tenant_id = $2 AND seq = 3")
        .bind(&later)
        .bind(&t.id)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_heads SET ordered_from = 5 WHERE tenant_id = $1")
        .bind(&t.id)
        .execute(&db)
        .await
        .unwrap();
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::GET,
        &format!("/v1/audit-events?since={at4}"),
        None,
        "",
    )
    .await;
    let seqs: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4], "{}", r.text);
}

async fn decide(s: &TestServer, t: &common::Tenant) -> common::Resp {
    common::send(
        s,
        &t.admin_key,
        t,
        Method::POST,
        "/v1/authorize",
        Some(common::permitted_request()),
    )
    .await
}

/// PostgreSQL only (tenants' chains commit in parallel there; SQLite's decision journal
/// has one writer): a tenant whose chain head is held — as a long write of that tenant
/// holds it — delays its own decisions, not another tenant's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_chain_is_held_delays_only_its_own_decisions() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    common::Backend::Postgres
        .scope(async {
            // a small queue: A's decisions below are more than it holds
            let s = TestServer::start_with(|c| c.audit_queue_capacity = 8).await;
            let (a, b) = (s.tenant().await, s.tenant().await);
            common::seed_permit_all(&s, &a, 1).await;
            common::seed_permit_all(&s, &b, 1).await;
            let db = s.db().await;
            let mut held = db.begin().await.unwrap();
            sqlx::query(
                "SELECT seq FROM audit_heads WHERE CAST(tenant_id AS TEXT) = $1 FOR UPDATE",
            )
            .bind(&a.id)
            .fetch_all(&mut *held)
            .await
            .unwrap();
            // A's decisions, twice as many as the queue holds, are sent and wait: for their
            // chain, or for their tenant's share of the queue
            let mut waiting = Box::pin(futures_util::future::join_all(
                (0..16).map(|_| decide(&s, &a)),
            ));
            let early = tokio::time::timeout(Duration::from_millis(500), &mut waiting).await;
            assert!(early.is_err(), "A's decisions wait for their chain");
            // (well before any of A's waits could time out: B must not wait on A at all)
            let r = tokio::time::timeout(Duration::from_secs(3), decide(&s, &b))
                .await
                .expect("B's decision is answered while A's chain is held");
            assert_eq!(r.body["decision"], "allow", "{}", r.text);
            held.rollback().await.unwrap();
            for r in waiting.await {
                assert_eq!(r.body["decision"], "allow", "{}", r.text);
            }
        })
        .await;
}
