//! Webhooks over HTTP: management, signed deliveries from the outbox to a receiver on
//! 127.0.0.1 that verifies every signature with the Standard Webhooks check and fails the
//! first attempts, order per grant, stable ids, dead letters and retries, URL checks,
//! rollbacks that send nothing, and `kill -9` with deliveries pending.

mod common;

use common::{fresh_database, send, send_on_behalf, spawn_serve, Resp, Tenant, TestServer};
use grantd::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One accepted delivery, as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    event_type: String,
    grant: String,
    status: String,
    /// Attempts of this `webhook-id` the receiver saw, this one included.
    attempt: usize,
}

/// A webhook receiver on 127.0.0.1: verifies every request with the Standard Webhooks
/// check, answers 500 to the first `fail_first` attempts of each `webhook-id` (and to
/// everything while `down`), then 204.
#[derive(Clone, Default)]
struct Receiver {
    secret: Arc<Mutex<Option<String>>>,
    fail_first: usize,
    down: Arc<AtomicBool>,
    attempts: Arc<Mutex<HashMap<String, usize>>>,
    accepted: Arc<Mutex<Vec<Seen>>>,
    bad_signatures: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail_first: usize) -> (Receiver, String) {
        let r = Receiver {
            fail_first,
            ..Default::default()
        };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let r = state.clone();
                    async move { r.handle(headers, body) }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, format!("http://{addr}/hook"))
    }

    fn handle(
        &self,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        let Some(secret) = self.secret.lock().unwrap().clone() else {
            return StatusCode::SERVICE_UNAVAILABLE;
        };
        let wh = standardwebhooks::Webhook::new(&secret).unwrap();
        if wh.verify(&body, &headers).is_err() {
            self.bad_signatures.fetch_add(1, Ordering::SeqCst);
            return StatusCode::UNAUTHORIZED;
        }
        let id = headers["webhook-id"].to_str().unwrap().to_string();
        let attempt = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(id.clone()).or_default();
            *n += 1;
            *n
        };
        if self.down.load(Ordering::SeqCst) || attempt <= self.fail_first {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        let v: Value = serde_json::from_slice(&body).unwrap();
        self.accepted.lock().unwrap().push(Seen {
            id,
            event_type: v["type"].as_str().unwrap().to_string(),
            grant: v["data"]["grant"]["id"].as_str().unwrap().to_string(),
            status: v["data"]["grant"]["status"].as_str().unwrap().to_string(),
            attempt,
        });
        StatusCode::NO_CONTENT
    }

    fn seen(&self) -> Vec<Seen> {
        self.accepted.lock().unwrap().clone()
    }

    /// The accepted event types of one grant, in arrival order.
    fn types_of(&self, grant: &str) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|s| s.grant == grant)
            .map(|s| s.event_type)
            .collect()
    }
}

fn entities() -> Value {
    json!([
        {"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "sre-leads"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "User", "id": "bob"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "User", "id": "lead1"}, "attrs": {}, "parents": [{"type": "Group", "id": "sre-leads"}]},
        {"uid": {"type": "User", "id": "eve"}, "attrs": {}, "parents": []},
        {"uid": {"type": "App", "id": "production"}, "attrs": {}, "parents": []},
        {"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []}
    ])
}

fn policies() -> Vec<Value> {
    let request = |app: &str| {
        json!({"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
            "principal_entity_id": "engineering", "action_scope_type": "in", "action_ids": ["request", "extend"],
            "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": app})
    };
    vec![
        json!({"key": "prod", "name": "production", "max_duration_seconds": 7200,
            "notification_channel": "prod-access",
            "approval": {"approvers": {"type": "Group", "id": "sre-leads"}, "count": 1, "timeout_seconds": 3600},
            "rules": [request("production"),
                {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
                 "principal_entity_id": "sre-leads", "action_scope_type": "eq", "action_ids": ["approve"],
                 "resource_scope_type": "any"}]}),
        json!({"key": "github", "name": "github", "max_duration_seconds": 3600, "rules": [request("github")]}),
    ]
}

struct Ctx {
    s: TestServer,
    t: Tenant,
    req: String,
}

/// Webhooks may reach 127.0.0.1 over http, and are retried after 50 ms. (The timeout, and
/// so an attempt's lease, is long: the tests move the manual clock quickly, and a lease that
/// ran out would send an attempt twice.)
fn local_webhooks(c: &mut grantd::config::Config) {
    c.webhooks.urls.allow_insecure = true;
    c.webhooks.urls.allow_private = true;
    c.webhooks.retry_base = Duration::from_millis(50);
    c.webhooks.timeout = Duration::from_secs(30);
}

/// A server with [`local_webhooks`], and the entities and policies above.
async fn setup() -> Ctx {
    let s = TestServer::start_with(local_webhooks).await;
    let t = s.tenant().await;
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::PUT,
        "/v1/entities",
        Some(entities()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for p in policies() {
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/policies", Some(p)).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let req = s.key(&t, "requester").await;
    Ctx { s, t, req }
}

impl Ctx {
    async fn hook(&self, url: &str, extra: Value) -> Resp {
        let mut body = json!({"url": url});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        send(
            &self.s,
            &self.t.admin_key,
            &self.t,
            Method::POST,
            "/v1/webhooks",
            Some(body),
        )
        .await
    }

    async fn request(&self, user: &str, app: &str, reason: &str) -> Resp {
        send_on_behalf(
            &self.s,
            &self.req,
            &self.t,
            Method::POST,
            "/v1/grants",
            Some(json!({"principal": {"type": "User", "id": user},
                "resource": {"type": "App", "id": app}, "reason": reason, "duration_seconds": 300})),
            user,
        )
        .await
    }

    /// Waits (moving the manual clock, which retries are scheduled by) until `done`.
    async fn until(&self, what: &str, done: impl Fn() -> bool) {
        for _ in 0..400 {
            if done() {
                return;
            }
            self.s.clock.advance(chrono::Duration::milliseconds(200));
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("not within 10 s: {what}");
    }
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_event_arrives_signed_in_order_with_stable_ids() {
        let c = setup().await;
        let (rx, url) = Receiver::start(2).await;
        let r = c.hook(&url, json!({"description": "provisioning"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let secret = r.body["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(r.body["event_types"].as_array().unwrap().len(), 8);
        *rx.secret.lock().unwrap() = Some(secret);
        let hook = r.body["id"].as_str().unwrap().to_string();
        // the secret is shown once
        let r = c.s.admin_get(&c.t, "/v1/webhooks").await;
        assert_eq!(r.body["items"][0]["id"], hook.as_str());
        assert!(r.body["items"][0].get("secret").is_none(), "{}", r.text);
        assert!(!r.text.contains("whsec_"));

        // an approval story: requested, approval_required, approved + activated, revoked
        let p = c.request("alice", "production", "incident").await;
        assert_eq!(p.status, 201, "{}", p.text);
        let pid = p.body["id"].as_str().unwrap().to_string();
        let r = send_on_behalf(&c.s, &c.req, &c.t, Method::POST, &format!("/v1/grants/{pid}/approve"), None, "lead1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(&c.s, &c.req, &c.t, Method::POST, &format!("/v1/grants/{pid}/revoke"), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        // a preapproved grant, extended, that expires; a denied request (nothing to send)
        let g = c.request("bob", "github", "review").await;
        assert_eq!(g.status, 201, "{}", g.text);
        let gid = g.body["id"].as_str().unwrap().to_string();
        let r = send(&c.s, &c.req, &c.t, Method::POST, &format!("/v1/grants/{gid}/extend"),
            Some(json!({"duration_seconds": 600}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        c.request("eve", "github", "nope").await.assert_error(403, "access_denied");
        // a request that is denied by its approver
        let d = c.request("bob", "production", "again").await;
        let did = d.body["id"].as_str().unwrap().to_string();
        let r = send_on_behalf(&c.s, &c.req, &c.t, Method::POST, &format!("/v1/grants/{did}/deny"), None, "lead1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        c.s.clock.advance(chrono::Duration::seconds(601));
        grantd::service::grants::sweep(&c.s.state.services.store, c.s.clock.now()).await.unwrap();

        c.until("every event delivered", || rx.seen().len() == 12).await;
        assert_eq!(
            rx.types_of(&pid),
            ["grant.requested", "grant.approval_required", "grant.approved", "grant.activated",
             "grant.revoked"]
        );
        assert_eq!(rx.types_of(&gid), ["grant.requested", "grant.activated", "grant.extended", "grant.expired"]);
        assert_eq!(rx.types_of(&did), ["grant.requested", "grant.approval_required", "grant.denied"]);
        let seen = rx.seen();
        assert!(seen.iter().all(|s| s.attempt == 3), "accepted on the third attempt of its id: {seen:?}");
        let ids: std::collections::HashSet<&str> = seen.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), 12, "one id per delivery, the same on every attempt");
        assert_eq!(rx.bad_signatures.load(Ordering::SeqCst), 0);
        // the grant as the change left it
        assert_eq!(seen.iter().find(|s| s.event_type == "grant.revoked").unwrap().status, "REVOKED");
        assert_eq!(seen.iter().find(|s| s.grant == pid && s.event_type == "grant.activated").unwrap().status, "GRANTED");

        // the deliveries, as the API shows them
        // (an outcome is recorded just after the receiver's answer)
        let path = format!("/v1/webhooks/{hook}/deliveries?status=delivered&limit=200");
        let mut r = c.s.admin_get(&c.t, &path).await;
        for _ in 0..100 {
            if r.body["items"].as_array().is_some_and(|i| i.len() == 12) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            r = c.s.admin_get(&c.t, &path).await;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 12, "{}", r.text);
        assert!(items.iter().all(|d| d["attempts"] == 3 && d["last_status"] == 204), "{}", r.text);
        // a replay carries the same id
        let first = items[0]["id"].as_str().unwrap();
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST,
            &format!("/v1/webhooks/{hook}/deliveries/{first}/retry"), None).await;
        assert_eq!(r.status, 202, "{}", r.text);
        c.until("the replay", || rx.seen().len() == 13).await;
        assert_eq!(rx.seen()[12].id, first);
        let r = c.s.admin_get(&c.t, "/v1/audit-events?kind=webhook.retry").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "the replay is audited");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn channels_and_event_types_narrow_deliveries_and_dead_letters_can_be_replayed() {
        let c = setup().await;
        let (all, url_all) = Receiver::start(0).await;
        let (prod, url_prod) = Receiver::start(0).await;
        let (dead, url_dead) = Receiver::start(usize::MAX).await;
        for (rx, url, extra) in [
            (&all, &url_all, json!({"event_types": ["grant.activated"]})),
            (&prod, &url_prod, json!({"channel": "prod-access"})),
            (&dead, &url_dead, json!({"event_types": ["grant.requested"]})),
        ] {
            let r = c.hook(url, extra).await;
            assert_eq!(r.status, 201, "{}", r.text);
            *rx.secret.lock().unwrap() = Some(r.body["secret"].as_str().unwrap().to_string());
        }
        let gh = c.request("alice", "github", "x").await.body["id"].as_str().unwrap().to_string();
        let pr = c.request("bob", "production", "y").await.body["id"].as_str().unwrap().to_string();
        c.until("activations and prod events", || all.seen().len() == 1 && prod.seen().len() == 2).await;
        assert_eq!(all.types_of(&gh), ["grant.activated"]);
        assert!(prod.types_of(&gh).is_empty(), "github's policy has no channel");
        assert_eq!(prod.types_of(&pr), ["grant.requested", "grant.approval_required"]);
        // the failing receiver's deliveries die after the schedule (8 attempts)
        let hooks = c.s.admin_get(&c.t, "/v1/webhooks").await;
        let dead_hook = hooks.body["items"].as_array().unwrap().iter()
            .find(|h| h["url"] == url_dead.as_str()).unwrap()["id"].as_str().unwrap().to_string();
        let path = format!("/v1/webhooks/{dead_hook}/deliveries?status=dead");
        let mut items = Vec::new();
        for _ in 0..300 {
            items = c.s.admin_get(&c.t, &path).await.body["items"].as_array().unwrap().clone();
            if items.len() == 2 {
                break;
            }
            // the schedule's steps are up to 7200 bases (50 ms): move the clock far
            c.s.clock.advance(chrono::Duration::seconds(60));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(items.len(), 2, "both dead");
        // eight attempts, or more where the test's clock jumps (a minute a step) outran an
        // attempt's lease and it was claimed again: at least once
        assert!(
            items.iter().all(|d| d["attempts"].as_i64().unwrap() >= 8 && d["last_status"] == 500),
            "{items:?}"
        );
        assert!(dead.seen().is_empty());
        // the answer kept is an excerpt, never more than 512 bytes
        assert!(items.iter().all(|d| d["last_error"].as_str().unwrap_or("").len() <= 512));
    }

    #[tokio::test]
    async fn webhooks_are_checked_and_tenants_are_walls() {
        let c = setup().await;
        // this server allows http and private addresses; a strict one does not
        let strict = TestServer::start().await;
        let st = strict.tenant().await;
        for (url, why) in [
            ("http://hooks.example.com/x", "https"),
            ("https://127.0.0.1/x", "non-public"),
            ("https://10.0.0.8/x", "non-public"),
            ("https://[::1]/x", "non-public"),
            ("https://localhost:8443/x", "non-public"),
            ("https://u:p@hooks.example.com/x", "credentials"),
        ] {
            let r = send(&strict, &st.admin_key, &st, Method::POST, "/v1/webhooks", Some(json!({"url": url}))).await;
            r.assert_error(400, "invalid_input");
            assert!(r.text.contains(why), "{url}: {}", r.text);
        }
        let r = send(&strict, &st.admin_key, &st, Method::POST, "/v1/webhooks",
            Some(json!({"url": "https://hooks.example.com/grantd"}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        for body in [
            json!({"url": "http://127.0.0.1:9/x", "event_types": ["grant.exploded"]}),
            json!({"url": "http://127.0.0.1:9/x", "event_types": []}),
            json!({"url": "http://127.0.0.1:9/x", "channel": "x".repeat(501)}),
            json!({"url": "http://127.0.0.1:9/x", "secret": "mine"}),
            json!({"url": format!("http://127.0.0.1:9/{}", "x".repeat(2048))}),
        ] {
            let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/webhooks", Some(body.clone())).await;
            r.assert_error(400, "invalid_input");
        }
        // admin only
        let r = send(&c.s, &c.req, &c.t, Method::POST, "/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/x"}))).await;
        r.assert_error(403, "forbidden");
        // at most 20
        let mut ids = Vec::new();
        for i in 0..20 {
            let r = c.hook(&format!("http://127.0.0.1:9/{i}"), json!({})).await;
            assert_eq!(r.status, 201, "{}", r.text);
            ids.push(r.body["id"].as_str().unwrap().to_string());
        }
        c.hook("http://127.0.0.1:9/x", json!({})).await.assert_error(409, "conflict");
        // another tenant's webhook is not found
        let other = c.s.tenant().await;
        for (m, path) in [
            (Method::GET, format!("/v1/webhooks/{}", ids[0])),
            (Method::DELETE, format!("/v1/webhooks/{}", ids[0])),
            (Method::GET, format!("/v1/webhooks/{}/deliveries", ids[0])),
        ] {
            send(&c.s, &other.admin_key, &other, m, &path, None).await.assert_error(404, "not_found");
        }
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::DELETE, &format!("/v1/webhooks/{}", ids[0]), None).await;
        assert_eq!(r.status, 204, "{}", r.text);
        send(&c.s, &c.t.admin_key, &c.t, Method::GET, &format!("/v1/webhooks/{}", ids[0]), None).await.assert_error(404, "not_found");
        // both are audited
        let r = c.s.admin_get(&c.t, "/v1/audit-events?kind=webhook.create&per_page=100").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 20);
        let r = c.s.admin_get(&c.t, "/v1/audit-events?kind=webhook.delete").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_that_rolled_back_sends_nothing() {
        let c = setup().await;
        let (rx, url) = Receiver::start(0).await;
        let r = c.hook(&url, json!({})).await;
        *rx.secret.lock().unwrap() = Some(r.body["secret"].as_str().unwrap().to_string());
        // the database refuses the outbox row of bob's grants: their whole transaction
        // (grant, audit event, outbox rows) rolls back
        let db = c.s.db().await;
        let sql: &[&str] = match c.s.backend {
            common::Backend::Sqlite => &["CREATE TRIGGER refuse_bob AFTER INSERT ON webhook_deliveries \
                WHEN NEW.payload LIKE '%\"bob\"%' BEGIN SELECT RAISE(ABORT, 'refused'); END"],
            common::Backend::Postgres => &[
                "CREATE FUNCTION refuse_bob() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.payload LIKE '%\"bob\"%' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$",
                "CREATE TRIGGER refuse_bob AFTER INSERT ON webhook_deliveries FOR EACH ROW EXECUTE FUNCTION refuse_bob()",
            ],
        };
        for q in sql {
            sqlx::query(q).execute(&db).await.unwrap();
        }
        let r = c.request("bob", "github", "rolled back").await;
        assert!(r.status.is_server_error(), "{}", r.text);
        let r = c.request("alice", "github", "kept").await;
        assert_eq!(r.status, 201, "{}", r.text);
        let alice = r.body["id"].as_str().unwrap().to_string();
        c.until("alice's events", || rx.seen().len() == 2).await;
        // a little longer: nothing else comes
        for _ in 0..20 {
            c.s.clock.advance(chrono::Duration::seconds(10));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seen = rx.seen();
        assert!(seen.iter().all(|s| s.grant == alice), "{seen:?}");
        assert_eq!(seen.len(), 2);
        // and bob holds no grant
        let r = send(&c.s, &c.req, &c.t, Method::POST, "/v1/grants/list",
            Some(json!([{"attribute": "user", "operator": "EQUALS", "values": [{"value": "bob"}]}]))).await;
        assert_eq!(r.body["total"], 0, "{}", r.text);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kill_9_with_deliveries_pending_delivers_everything_after_restart() {
        let db = fresh_database().await;
        let dir = db.dir.path().to_path_buf();
        let flags = ["--database-url", &db.url, "--allow-insecure-webhooks", "--allow-private-webhooks",
            "--webhook-retry-base-ms", "100", "--webhook-timeout-ms", "2000"];
        let (mut child, addr, _log, _rx) = spawn_serve(&dir, &flags);
        let base = format!("http://{addr}");
        let boot: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("grantd-bootstrap.json")).unwrap()).unwrap();
        let (key, tenant) = (boot["api_key"].as_str().unwrap().to_string(), boot["tenant_id"].as_str().unwrap().to_string());
        let client = reqwest::Client::new();
        let call = |m: Method, path: &str, body: Value| {
            client.request(m, format!("{base}{path}")).header("X-API-Key", &key)
                .header("X-Tenant-ID", &tenant).json(&body).send()
        };
        let r = call(Method::PUT, "/v1/entities", entities()).await.unwrap();
        assert_eq!(r.status(), 200);
        let r = call(Method::POST, "/v1/policies", policies()[1].clone()).await.unwrap();
        assert_eq!(r.status(), 201);
        let (rx, url) = Receiver::start(0).await;
        rx.down.store(true, Ordering::SeqCst);
        let r: Value = call(Method::POST, "/v1/webhooks", json!({"url": url})).await.unwrap().json().await.unwrap();
        *rx.secret.lock().unwrap() = Some(r["secret"].as_str().unwrap().to_string());
        let mut grants = Vec::new();
        for i in 0..10 {
            let user = if i % 2 == 0 { "alice" } else { "bob" };
            let r = call(Method::POST, "/v1/grants", json!({"principal": {"type": "User", "id": user},
                "resource": {"type": "App", "id": "github"}, "reason": format!("r{i}")})).await.unwrap();
            assert_eq!(r.status(), 201);
            let g: Value = r.json().await.unwrap();
            grants.push(g["id"].as_str().unwrap().to_string());
        }
        // let some attempts fail, then kill -9 with every delivery pending
        tokio::time::sleep(Duration::from_millis(300)).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        assert!(rx.seen().is_empty());
        rx.down.store(false, Ordering::SeqCst);
        let (mut child, _addr, _log, _rx) = spawn_serve(&dir, &flags);
        for _ in 0..600 {
            if rx.seen().len() >= 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        child.kill().unwrap();
        let _ = child.wait();
        let seen = rx.seen();
        for g in &grants {
            assert_eq!(rx.types_of(g), ["grant.requested", "grant.activated"], "{g}: {seen:?}");
        }
        assert_eq!(rx.bad_signatures.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_receiver_that_never_answers_holds_only_its_own_attempts() {
        let s = TestServer::start_with(|c| {
            c.webhooks.urls.allow_insecure = true;
            c.webhooks.urls.allow_private = true;
            c.webhooks.retry_base = Duration::from_millis(50);
            c.webhooks.timeout = Duration::from_millis(300);
            c.webhooks.concurrency = 2;
        })
        .await;
        let t = s.tenant().await;
        let r = send(&s, &t.admin_key, &t, Method::PUT, "/v1/entities", Some(entities())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/policies", Some(policies()[1].clone())).await;
        assert_eq!(r.status, 201, "{}", r.text);
        // a receiver that accepts connections and never answers
        let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hang_url = format!("http://{}/hook", hang.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = hang.accept().await {
                held.push(sock);
            }
        });
        let (ok, ok_url) = Receiver::start(0).await;
        let c = Ctx { req: s.key(&t, "requester").await, s, t };
        let r = c.hook(&hang_url, json!({})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let hung = r.body["id"].as_str().unwrap().to_string();
        let r = c.hook(&ok_url, json!({})).await;
        *ok.secret.lock().unwrap() = Some(r.body["secret"].as_str().unwrap().to_string());
        // grant writes go on while both delivery slots hang
        let mut grants = Vec::new();
        for user in ["alice", "bob", "alice", "bob", "alice", "bob"] {
            let r = c.request(user, "github", "while it hangs").await;
            assert_eq!(r.status, 201, "{}", r.text);
            grants.push(r.body["id"].as_str().unwrap().to_string());
        }
        // the healthy receiver gets everything; the hanging one's attempts time out
        c.until("the healthy receiver's 12 events", || ok.seen().len() == 12).await;
        for g in &grants {
            assert_eq!(ok.types_of(g), ["grant.requested", "grant.activated"]);
        }
        let r = c.s.admin_get(&c.t, &format!("/v1/webhooks/{hung}/deliveries?status=pending")).await;
        let items = r.body["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{}", r.text);
        // a pending delivery is sent on its schedule: no second attempt alongside
        let pending = items[0]["id"].as_str().unwrap();
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST,
            &format!("/v1/webhooks/{hung}/deliveries/{pending}/retry"), None).await;
        r.assert_error(409, "conflict");
        // its attempts end at the timeout, recorded as such
        let path = format!("/v1/webhooks/{hung}/deliveries");
        let timed_out = |d: &Value| {
            d["last_error"].as_str().is_some_and(|e| e.contains("timed out") || e.contains("timeout"))
        };
        let mut last = Value::Null;
        for _ in 0..200 {
            last = c.s.admin_get(&c.t, &path).await.body;
            if last["items"].as_array().unwrap().iter().any(timed_out) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(last["items"].as_array().unwrap().iter().any(timed_out), "{last}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finished_deliveries_are_pruned_after_30_days() {
        let c = setup().await;
        let (rx, url) = Receiver::start(0).await;
        let r = c.hook(&url, json!({})).await;
        *rx.secret.lock().unwrap() = Some(r.body["secret"].as_str().unwrap().to_string());
        let hook = r.body["id"].as_str().unwrap().to_string();
        c.request("alice", "github", "x").await;
        c.until("two deliveries", || rx.seen().len() == 2).await;
        let path = format!("/v1/webhooks/{hook}/deliveries");
        assert_eq!(c.s.admin_get(&c.t, &path).await.body["items"].as_array().unwrap().len(), 2);
        // 29 days on (the grant expired meanwhile: a third delivery), a starting worker
        // keeps them; 31 days on, it prunes the two older than 30 days
        c.s.clock.advance(chrono::Duration::days(29));
        let _second = c.s.instance(local_webhooks).await;
        c.until("the expiry's delivery", || rx.seen().len() == 3).await;
        assert_eq!(c.s.admin_get(&c.t, &path).await.body["items"].as_array().unwrap().len(), 3);
        c.s.clock.advance(chrono::Duration::days(2));
        let _third = c.s.instance(local_webhooks).await;
        let mut left = Vec::new();
        for _ in 0..100 {
            left = c.s.admin_get(&c.t, &path).await.body["items"].as_array().unwrap().clone();
            if left.len() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0]["event_type"], "grant.expired");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_receivers_answer_is_kept_as_a_bounded_text_excerpt() {
        let c = setup().await;
        // answers 200 with NUL bytes and far more than 512 bytes
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(|| async { (axum::http::StatusCode::OK, format!("ok\0\0{}", "x".repeat(5000))) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let r = c.hook(&url, json!({"event_types": ["grant.requested"]})).await;
        let hook = r.body["id"].as_str().unwrap().to_string();
        c.request("alice", "github", "x").await;
        let path = format!("/v1/webhooks/{hook}/deliveries?status=delivered");
        let mut items = Vec::new();
        for _ in 0..200 {
            items = c.s.admin_get(&c.t, &path).await.body["items"].as_array().unwrap().clone();
            if !items.is_empty() {
                break;
            }
            c.s.clock.advance(chrono::Duration::milliseconds(200));
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(items.len(), 1, "delivered once, on both backends");
        assert_eq!(items[0]["attempts"], 1);
        let kept = items[0]["last_error"].as_str().unwrap();
        assert!(kept.starts_with("ok\\u{0}\\u{0}x"), "{kept}");
        assert!(kept.len() <= 512, "{}", kept.len());
    }
}
