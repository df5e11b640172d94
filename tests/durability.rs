//! Durability across `kill -9`, on both backends: every grant and every decision the server
//! acknowledged before it was killed mid-load is there after a restart, once, and every
//! chain verifies.

mod common;

use common::{fresh_database, spawn_serve};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

struct Api {
    base: String,
    key: String,
    tenant: String,
    client: reqwest::Client,
}

impl Api {
    async fn call(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .client
            .request(m, format!("{}{path}", self.base))
            .header("X-API-Key", &self.key)
            .header("X-Tenant-ID", &self.tenant);
        if let Some(b) = body {
            r = r.json(&b);
        }
        match r.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (status, resp.json().await.unwrap_or(Value::Null))
            }
            // the server was killed mid-request: not acknowledged
            Err(_) => (0, Value::Null),
        }
    }
}

fn bootstrap(dir: &std::path::Path, base: String) -> Api {
    let boot: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("grantd-bootstrap.json")).expect("bootstrap file"),
    )
    .unwrap();
    Api {
        base,
        key: boot["api_key"].as_str().unwrap().to_string(),
        tenant: boot["tenant_id"].as_str().unwrap().to_string(),
        client: reqwest::Client::new(),
    }
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kill_9_loses_no_acknowledged_grant_or_decision() {
        use reqwest::Method;
        let db = fresh_database().await;
        let dir = db.dir.path().to_path_buf();
        let (mut child, addr, _log, _rx) = spawn_serve(&dir, &["--database-url", &db.url]);
        let api = Arc::new(bootstrap(&dir, format!("http://{addr}")));
        let (s, _) = api
            .call(
                Method::PUT,
                "/v1/entities",
                Some(json!([
                    {"uid": {"type": "Group", "id": "eng"}, "attrs": {}, "parents": []},
                    {"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []}
                ])),
            )
            .await;
        assert_eq!(s, 200);
        // grants need their principals stored: 2,000 users, one grant each at most
        for chunk in 0..2 {
            let users: Vec<Value> = (chunk * 1000..(chunk + 1) * 1000)
                .map(|i| json!({"uid": {"type": "User", "id": format!("g{i}")}, "attrs": {}, "parents": []}))
                .collect();
            let (s, body) = api.call(Method::PUT, "/v1/entities", Some(Value::Array(users))).await;
            assert_eq!(s, 200, "{body}");
        }
        let next_user = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, body) = api
            .call(
                Method::POST,
                "/v1/policies",
                Some(json!({"key": "all", "name": "all", "max_duration_seconds": 86400,
                    "rules": [{"effect": "permit", "principal_scope_type": "any",
                        "action_scope_type": "in", "action_ids": ["request", "extend"],
                        "resource_scope_type": "any"}]})),
            )
            .await;
        assert_eq!(s, 201, "{body}");

        // Load from 8 clients: grant requests (with idempotency keys) and decisions, each
        // for a principal of its own, recording what was acknowledged.
        let grants: Arc<Mutex<Vec<String>>> = Arc::default();
        let decisions: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for c in 0..8 {
            let (api, grants, decisions, stop, next_user) =
                (api.clone(), grants.clone(), decisions.clone(), stop.clone(), next_user.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i < 100_000 {
                    i += 1;
                    let user = format!("c{c}-{i}");
                    let g = next_user.fetch_add(usize::from(i % 2 == 0), Ordering::Relaxed);
                    if i % 2 == 0 && g < 2000 {
                        let user = format!("g{g}");
                        let r = api
                            .client
                            .post(format!("{}/v1/grants", api.base))
                            .header("X-API-Key", &api.key)
                            .header("X-Tenant-ID", &api.tenant)
                            .header("Idempotency-Key", &user)
                            .json(&json!({"principal": {"type": "User", "id": user},
                                "resource": {"type": "App", "id": "github"},
                                "reason": "durability", "duration_seconds": 3600}))
                            .send()
                            .await;
                        let Ok(r) = r else { break };
                        if r.status() == 201 {
                            let body: Value = r.json().await.unwrap_or(Value::Null);
                            if let Some(id) = body["id"].as_str() {
                                grants.lock().unwrap().push(id.to_string());
                            }
                        }
                    } else {
                        let (s, _) = api
                            .call(
                                Method::POST,
                                "/v1/authorize",
                                Some(json!({"principal": {"type": "User", "id": user},
                                    "action": {"type": "Action", "id": "request"},
                                    "resource": {"type": "App", "id": "github"},
                                    "context": {"scopes": [], "reason": "x", "extension_count": 0}})),
                            )
                            .await;
                        if s == 0 {
                            break;
                        }
                        if s == 200 {
                            decisions.lock().unwrap().push(format!("User::\"{user}\""));
                        }
                    }
                }
            }));
        }
        // kill -9 mid-load, once enough has been acknowledged
        for _ in 0..600 {
            if grants.lock().unwrap().len() >= 100 && decisions.lock().unwrap().len() >= 100 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        let grants = grants.lock().unwrap().clone();
        let decisions = decisions.lock().unwrap().clone();
        assert!(grants.len() >= 100 && decisions.len() >= 100, "{} grants, {} decisions", grants.len(), decisions.len());

        let (mut child, addr, _log, _rx) = spawn_serve(&dir, &["--database-url", &db.url]);
        let api = bootstrap(&dir, format!("http://{addr}"));
        for id in &grants {
            let (s, body) = api.call(Method::GET, &format!("/v1/grants/{id}"), None).await;
            assert_eq!(s, 200, "acknowledged grant {id} lost: {body}");
        }
        // every acknowledged decision has its event, once
        let mut seen = std::collections::HashMap::<String, usize>::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = "/v1/audit-events?kind=authorize&per_page=100".to_string();
            if let Some(t) = &token {
                path.push_str(&format!("&next_page_token={t}"));
            }
            let (s, page) = api.call(Method::GET, &path, None).await;
            assert_eq!(s, 200, "{page}");
            for e in page["items"].as_array().unwrap() {
                let subject = e["subject"]["id"].as_str().unwrap_or("").to_string();
                *seen.entry(subject).or_default() += 1;
            }
            match page["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        for d in &decisions {
            assert_eq!(seen.get(d), Some(&1), "acknowledged decision of {d} not logged once");
        }
        let (s, rep) = api.call(Method::GET, "/v1/audit-events/verify", None).await;
        assert_eq!(s, 200);
        assert_eq!(rep["ok"], true, "{rep}");
        child.kill().unwrap();
        let _ = child.wait();
    }
}

/// A TCP proxy in front of the PostgreSQL server: `down` closes every connection through
/// it and refuses new ones (the database has gone away), `up` lets them through again.
struct Proxy {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (u, c) = (up.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Proxy {
            addr,
            up,
            conns,
            accept,
        }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.down();
    }
}

/// PostgreSQL going away mid-load: decisions, grant writes and reads answer `503
/// unavailable` (never 500, never a hang), `/readyz` says not ready, and when the server is
/// back every path works again without a restart, on an intact chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_gives_503_and_heals() {
    use common::{send, Backend, TestServer};
    use reqwest::Method;
    let Some(pg) = common::postgres_url() else {
        common::skip_postgres("postgres_going_away_gives_503_and_heals");
        return;
    };
    let pg = reqwest::Url::parse(&pg).unwrap();
    let target = format!("{}:{}", pg.host_str().unwrap(), pg.port().unwrap_or(5432));
    let proxy = Proxy::start(target).await;
    let port = proxy.addr.port();
    Backend::Postgres
        .scope(async move {
            let s = TestServer::start_with(|c| {
                let mut url = reqwest::Url::parse(&c.database_url).unwrap();
                url.set_host(Some("127.0.0.1")).unwrap();
                url.set_port(Some(port)).unwrap();
                c.database_url = url.to_string();
            })
            .await;
            let t = s.tenant().await;
            common::seed_permit_all(&s, &t, 3).await;
            let authorize = json!({"principal": {"type": "User", "id": "u"},
                "action": {"type": "Action", "id": "request"},
                "resource": {"type": "App", "id": "github"},
                "context": {"scopes": [], "reason": "x", "extension_count": 0}});
            let grant = |i: usize| {
                json!({"principal": {"type": "User", "id": format!("u{i}")},
                "resource": {"type": "App", "id": "github"}, "reason": "x",
                "duration_seconds": 600})
            };
            let call = |m: Method, path: &'static str, body: Option<Value>| {
                send(&s, &t.admin_key, &t, m, path, body)
            };
            assert_eq!(
                call(Method::POST, "/v1/authorize", Some(authorize.clone()))
                    .await
                    .status,
                200
            );
            let r = call(Method::POST, "/v1/grants", Some(grant(0))).await;
            assert_eq!(r.status, 201, "{}", r.text);

            // mid-load: four clients deciding while the database goes away and comes back
            let stop = Arc::new(AtomicBool::new(false));
            let statuses: Arc<Mutex<Vec<(u16, std::time::Duration)>>> = Arc::default();
            let mut load = Vec::new();
            for _ in 0..4 {
                let (client, base, key, tenant, body, stop, statuses) = (
                    s.client.clone(),
                    s.base.clone(),
                    t.admin_key.clone(),
                    t.id.clone(),
                    authorize.clone(),
                    stop.clone(),
                    statuses.clone(),
                );
                load.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let started = std::time::Instant::now();
                        let r = client
                            .post(format!("{base}/v1/authorize"))
                            .header("X-API-Key", &key)
                            .header("X-Tenant-ID", &tenant)
                            .json(&body)
                            .send()
                            .await
                            .expect("answered");
                        statuses
                            .lock()
                            .unwrap()
                            .push((r.status().as_u16(), started.elapsed()));
                    }
                }));
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            proxy.down();
            // every path answers 503 while it is gone
            for (m, path, body) in [
                (Method::POST, "/v1/authorize", Some(authorize.clone())),
                (Method::POST, "/v1/grants", Some(grant(1))),
                (Method::POST, "/v1/grants/list", Some(json!([]))),
                (Method::GET, "/v1/audit-events", None),
                (Method::GET, "/readyz", None),
            ] {
                let started = std::time::Instant::now();
                let r = call(m, path, body).await;
                r.assert_error(503, "unavailable");
                assert!(r.headers.contains_key("retry-after"), "{path}");
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(15),
                    "{path} hung"
                );
            }
            proxy.up();
            // heals by itself: writes, decisions and readiness come back
            let mut healed = false;
            for _ in 0..300 {
                if call(Method::POST, "/v1/grants", Some(grant(2)))
                    .await
                    .status
                    == 201
                    && call(Method::POST, "/v1/authorize", Some(authorize.clone()))
                        .await
                        .status
                        == 200
                    && call(Method::GET, "/readyz", None).await.status == 200
                {
                    healed = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert!(healed, "grantd did not recover after PostgreSQL came back");
            stop.store(true, Ordering::Relaxed);
            for l in load {
                l.await.unwrap();
            }
            let statuses = statuses.lock().unwrap().clone();
            assert!(
                statuses.iter().any(|(st, _)| *st == 503),
                "no decision saw the outage"
            );
            for (st, took) in &statuses {
                assert!(*st == 200 || *st == 503, "a decision answered {st}");
                assert!(
                    *took < std::time::Duration::from_secs(15),
                    "a decision took {took:?}"
                );
            }
            let r = call(Method::GET, "/v1/audit-events/verify", None).await;
            assert_eq!(r.body["ok"], true, "{}", r.text);
        })
        .await;
}

backends! {
    /// Offboarding while the user's grants are in use: a bulk revoke runs while access
    /// checks stamp `last_used_at` on the same grants (on PostgreSQL both move the same
    /// per-day count rows). Every grant ends revoked, in one 200, with no deadlock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bulk_revoke_while_access_checks_stamp_the_same_grants() {
        use common::{send, TestServer};
        use reqwest::Method;
        let s = TestServer::start().await;
        let t = s.tenant().await;
        const N: usize = 120;
        common::seed_permit_all(&s, &t, N).await;
        let check = |i: usize| json!({"principal": {"type": "User", "id": format!("u{i}")},
            "resource": {"type": "App", "id": "github"}});
        for i in 0..N {
            let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/grants", Some(json!({
                "principal": {"type": "User", "id": format!("u{i}")},
                "resource": {"type": "App", "id": "github"}, "reason": "x", "duration_seconds": 3600}))).await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        // half are in use already (stamped once)
        for i in (0..N).step_by(2) {
            let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/access/check", Some(check(i))).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        // the other half are checked, for the first time, during the revoke
        let stop = Arc::new(AtomicBool::new(false));
        let mut checkers = Vec::new();
        for c in 0..4 {
            let (client, base, key, tenant, stop) =
                (s.client.clone(), s.base.clone(), t.admin_key.clone(), t.id.clone(), stop.clone());
            checkers.push(tokio::spawn(async move {
                let mut i = 1 + 2 * c;
                while !stop.load(Ordering::Relaxed) {
                    let r = client.post(format!("{base}/v1/access/check"))
                        .header("X-API-Key", &key).header("X-Tenant-ID", &tenant)
                        .json(&json!({"principal": {"type": "User", "id": format!("u{}", i % N)},
                            "resource": {"type": "App", "id": "github"}}))
                        .send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    i += 8;
                }
            }));
        }
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/grants/revoke", Some(json!({
            "filters": [{"attribute": "app", "operator": "EQUALS", "values": [{"value": "github"}]}],
            "reason": "offboarding"}))).await;
        stop.store(true, Ordering::Relaxed);
        for c in checkers {
            c.await.unwrap();
        }
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["revoked"], N, "{}", r.text);
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/grants/list", Some(json!([
            {"attribute": "status", "operator": "IS_ANY_OF", "values": [{"value": "REVOKED"}]}]))).await;
        assert_eq!(r.body["total"], N, "{}", r.text);
        // totals summed from the per-day counts (a status and a range on one column) agree
        for (status, n) in [("REVOKED", N), ("ACTIVE", 0)] {
            for col in ["expires_at", "granted_at"] {
                let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/grants/list", Some(json!([
                    {"attribute": "status", "operator": "IS_ANY_OF", "values": [{"value": status}]},
                    {"attribute": col, "operator": "IS_WITHIN", "values": [{"value": "P7D"}]}]))).await;
                assert_eq!(r.body["total"], n, "{status} {col}: {}", r.text);
            }
        }
        let r = s.admin_get(&t, "/v1/audit-events/verify").await;
        assert_eq!(r.body["ok"], true, "{}", r.text);
    }
}

backends! {
    /// Grant requests arriving together (on PostgreSQL they are committed in one group):
    /// each idempotency key yields one grant, whose answer every request with that key
    /// gets; nothing else is stored; the chain verifies.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_grant_requests_commit_once_per_idempotency_key() {
        use common::{send, TestServer};
        use reqwest::Method;
        let s = TestServer::start().await;
        let t = s.tenant().await;
        const KEYS: usize = 16;
        common::seed_permit_all(&s, &t, KEYS).await;
        let mut tasks = Vec::new();
        for n in 0..KEYS * 4 {
            let (client, base, key, tenant) =
                (s.client.clone(), s.base.clone(), t.admin_key.clone(), t.id.clone());
            let i = n % KEYS;
            tasks.push(tokio::spawn(async move {
                let r = client.post(format!("{base}/v1/grants"))
                    .header("X-API-Key", &key).header("X-Tenant-ID", &tenant)
                    .header("Idempotency-Key", format!("key-{i}"))
                    .json(&json!({"principal": {"type": "User", "id": format!("u{i}")},
                        "resource": {"type": "App", "id": "github"}, "reason": "x",
                        "duration_seconds": 600}))
                    .send().await.unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                (i, status, body["id"].as_str().unwrap_or("").to_string())
            }));
        }
        let mut ids: std::collections::HashMap<usize, std::collections::HashSet<String>> =
            std::collections::HashMap::new();
        for task in tasks {
            let (i, status, id) = task.await.unwrap();
            assert_eq!(status, 201, "key {i}");
            ids.entry(i).or_default().insert(id);
        }
        assert_eq!(ids.len(), KEYS);
        assert!(ids.values().all(|set| set.len() == 1), "{ids:?}");
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/grants/list", Some(json!([]))).await;
        assert_eq!(r.body["total"], KEYS, "{}", r.text);
        let r = s.admin_get(&t, "/v1/audit-events?kind=grant.request&per_page=100").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), KEYS, "{}", r.text);
        let r = s.admin_get(&t, "/v1/audit-events/verify").await;
        assert_eq!(r.body["ok"], true, "{}", r.text);
    }
}

/// A grant request decided on a configuration that a write then replaces, while the grant
/// waits for the tenant's head (PostgreSQL runs them in parallel up to that point), is
/// decided again on the new configuration: here the write removed the only permit, so it
/// is denied, never stored against the configuration it was first decided on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_waiting_behind_a_configuration_write_is_decided_again() {
    use common::{send, Backend, TestServer};
    use reqwest::Method;
    use sqlx::Connection;
    if common::postgres_url().is_none() {
        common::skip_postgres("a_grant_waiting_behind_a_configuration_write_is_decided_again");
        return;
    }
    Backend::Postgres
        .scope(async {
            let s = TestServer::start().await;
            let t = s.tenant().await;
            common::seed_permit_all(&s, &t, 1).await;
            let ask = |reason: &str| {
                json!({"principal": {"type": "User", "id": "u0"},
                    "resource": {"type": "App", "id": "github"}, "reason": reason,
                    "duration_seconds": 600})
            };
            let r = send(
                &s,
                &t.admin_key,
                &t,
                Method::POST,
                "/v1/grants",
                Some(ask("a")),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
            // another writer (a CLI import, another instance) holds the tenant's head while
            // it removes the policy
            let mut side = sqlx::PgConnection::connect(&s.db_url).await.unwrap();
            for sql in [
                "BEGIN",
                "SELECT 1 FROM audit_heads WHERE tenant_id = CAST($1 AS uuid) FOR UPDATE",
                "DELETE FROM policies WHERE tenant_id = CAST($1 AS uuid)",
                "UPDATE tenants SET revision = revision + 1 WHERE id = CAST($1 AS uuid)",
            ] {
                sqlx::query(sql)
                    .bind(&t.id)
                    .execute(&mut side)
                    .await
                    .unwrap();
            }
            let (client, base, key, tenant) = (
                s.client.clone(),
                s.base.clone(),
                t.admin_key.clone(),
                t.id.clone(),
            );
            let body = ask("b");
            let waiting = tokio::spawn(async move {
                let r = client
                    .post(format!("{base}/v1/grants"))
                    .header("X-API-Key", &key)
                    .header("X-Tenant-ID", &tenant)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.text().await.unwrap())
            });
            // the request decides on the cached configuration and waits for the head
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            assert!(
                !waiting.is_finished(),
                "the grant did not wait for the head"
            );
            sqlx::query("COMMIT").execute(&mut side).await.unwrap();
            let (status, text) = waiting.await.unwrap();
            assert_eq!(status, 403, "{text}");
            assert!(text.contains("access_denied"), "{text}");
            let r = send(
                &s,
                &t.admin_key,
                &t,
                Method::POST,
                "/v1/grants/list",
                Some(json!([])),
            )
            .await;
            assert_eq!(r.body["total"], 1, "{}", r.text);
        })
        .await;
}

/// A tenant whose chain head a long write holds (here a side transaction) delays only its
/// own grant requests: another tenant's are committed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_tenant_does_not_hold_up_another_tenants_grants() {
    use common::{Backend, TestServer};
    use sqlx::Connection;
    if common::postgres_url().is_none() {
        common::skip_postgres("a_held_tenant_does_not_hold_up_another_tenants_grants");
        return;
    }
    Backend::Postgres
        .scope(async {
            let s = TestServer::start().await;
            let (a, b) = (s.tenant().await, s.tenant().await);
            common::seed_permit_all(&s, &a, 1).await;
            common::seed_permit_all(&s, &b, 1).await;
            let request = |t: &common::Tenant| {
                let (client, base, key, tenant) = (
                    s.client.clone(),
                    s.base.clone(),
                    t.admin_key.clone(),
                    t.id.clone(),
                );
                tokio::spawn(async move {
                    client
                        .post(format!("{base}/v1/grants"))
                        .header("X-API-Key", &key)
                        .header("X-Tenant-ID", &tenant)
                        .json(&json!({"principal": {"type": "User", "id": "u0"},
                            "resource": {"type": "App", "id": "github"}, "reason": "x",
                            "duration_seconds": 600}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            };
            let mut side = sqlx::PgConnection::connect(&s.db_url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut side).await.unwrap();
            sqlx::query("SELECT 1 FROM audit_heads WHERE tenant_id = CAST($1 AS uuid) FOR UPDATE")
                .bind(&a.id)
                .execute(&mut side)
                .await
                .unwrap();
            let held = request(&a);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let other = tokio::time::timeout(std::time::Duration::from_secs(5), request(&b))
                .await
                .expect("the other tenant's grant waited for the held tenant")
                .unwrap();
            assert_eq!(other, 201);
            assert!(!held.is_finished(), "the held tenant's grant did not wait");
            sqlx::query("ROLLBACK").execute(&mut side).await.unwrap();
            assert_eq!(held.await.unwrap(), 201);
        })
        .await;
}
