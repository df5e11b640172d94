//! Three `grantd serve` processes on one PostgreSQL database, as behind a load balancer: a
//! rolling restart under load fails no request, and a `kill -9` of one instance under load
//! loses and duplicates nothing. PostgreSQL only (several processes share a database
//! there); skipped, saying so, when `GRANTD_TEST_POSTGRES_URL` is unset.

mod common;

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One instance as the balancer sees it.
struct Instance {
    child: Child,
    addr: String,
    /// As its `/readyz` said at the last look.
    ready: bool,
    _dir: tempfile::TempDir,
}

fn start(db_url: &str, extra: &[&str]) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--database-url", db_url];
    args.extend_from_slice(extra);
    let (child, addr, _log, _rx) = common::spawn_serve(dir.path(), &args);
    Instance {
        child,
        addr: format!("http://{addr}"),
        ready: false,
        _dir: dir,
    }
}

/// The tenant and admin key the first instance bootstrapped into `dir`.
fn bootstrap(i: &Instance) -> (String, String) {
    let text = std::fs::read_to_string(i._dir.path().join("grantd-bootstrap.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    (
        v["tenant_id"].as_str().unwrap().to_string(),
        v["api_key"].as_str().unwrap().to_string(),
    )
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    tenant: String,
    key: String,
}

impl Client {
    async fn call(
        &self,
        base: &str,
        m: reqwest::Method,
        path: &str,
        body: Option<Value>,
        idempotency: Option<&str>,
    ) -> Result<(u16, Value), String> {
        let mut r = self
            .http
            .request(m, format!("{base}{path}"))
            .header("X-API-Key", &self.key)
            .header("X-Tenant-ID", &self.tenant)
            .timeout(Duration::from_secs(20));
        if let Some(b) = body {
            r = r.json(&b);
        }
        if let Some(k) = idempotency {
            r = r.header("Idempotency-Key", k);
        }
        let r = r.send().await.map_err(|e| format!("{base}{path}: {e:?}"))?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| format!("{base}{path}: {e:?}"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// Users `u0`..`u{n}` and app `github` with a permit-all policy, through `base`.
async fn seed(c: &Client, base: &str, users: usize) {
    use reqwest::Method;
    let mut all: Vec<Value> =
        vec![json!({"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []})];
    all.extend((0..users).map(
        |i| json!({"uid": {"type": "User", "id": format!("u{i}")}, "attrs": {}, "parents": []}),
    ));
    for chunk in all.chunks(1000) {
        let (s, v) = c
            .call(
                base,
                Method::PUT,
                "/v1/entities",
                Some(Value::Array(chunk.to_vec())),
                None,
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = c
        .call(
            base,
            Method::POST,
            "/v1/policies",
            Some(json!({
            "key": "all", "name": "all", "max_duration_seconds": 86400,
            "rules": [{"effect": "permit", "principal_scope_type": "any",
                "action_scope_type": "in", "action_ids": ["request", "extend"],
                "resource_scope_type": "any"}]})),
            None,
        )
        .await
        .unwrap();
    assert_eq!(s, 201, "{v}");
}

/// Users seeded by [`cluster`].
const USERS: usize = 3000;

/// Three instances on the database at `db_url` with `flags`: the first bootstraps and is
/// seeded with [`USERS`] users and a permit-all policy, then the other two start.
async fn cluster(db_url: &str, flags: &[&str]) -> (Client, Arc<Mutex<Vec<Instance>>>) {
    let first = start(db_url, flags);
    let (tenant, key) = bootstrap(&first);
    let c = Client {
        http: reqwest::Client::new(),
        tenant,
        key,
    };
    seed(&c, &first.addr, USERS).await;
    let instances = Arc::new(Mutex::new(vec![first]));
    for _ in 0..2 {
        let i = start(db_url, flags);
        instances.lock().unwrap().push(i);
    }
    (c, instances)
}

fn authorize(tag: &str) -> Value {
    json!({"principal": {"type": "User", "id": "u0"},
        "action": {"type": "Action", "id": "request"},
        "resource": {"type": "App", "id": "github"},
        "context": {"scopes": [], "reason": tag, "extension_count": 0}})
}

fn grant(user: usize) -> Value {
    json!({"principal": {"type": "User", "id": format!("u{user}")},
        "resource": {"type": "App", "id": "github"}, "reason": "load", "duration_seconds": 3600})
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Marks each instance ready or not from its `/readyz`, every 20 ms, until `stop`.
fn balancer(
    instances: Arc<Mutex<Vec<Instance>>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        while !stop.load(Ordering::Relaxed) {
            let addrs: Vec<String> = instances
                .lock()
                .unwrap()
                .iter()
                .map(|i| i.addr.clone())
                .collect();
            // all at once, as a balancer's health checks run
            let looks = addrs.iter().map(|addr| {
                let http = http.clone();
                async move {
                    http.get(format!("{addr}/readyz"))
                        .timeout(Duration::from_millis(500))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200)
                }
            });
            let ready = futures_util::future::join_all(looks).await;
            {
                let mut all = instances.lock().unwrap();
                for (n, (addr, ready)) in addrs.iter().zip(ready).enumerate() {
                    if all.get(n).is_some_and(|i| i.addr == *addr) {
                        all[n].ready = ready;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// The next ready instance after `turn`, round-robin, as a balancer picks.
fn pick(instances: &Mutex<Vec<Instance>>, turn: usize) -> Option<String> {
    let all = instances.lock().unwrap();
    let ready: Vec<&Instance> = all.iter().filter(|i| i.ready).collect();
    (!ready.is_empty()).then(|| ready[turn % ready.len()].addr.clone())
}

async fn wait_ready(instances: &Mutex<Vec<Instance>>, n: usize) {
    for _ in 0..1000 {
        if instances.lock().unwrap()[n].ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("instance {n} never became ready");
}

#[test]
fn a_rolling_restart_of_three_instances_under_load_fails_no_request() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    runtime().block_on(async {
        let db = common::PgDatabase::create().await;
        // the drain is well above the balancer's look every 20 ms (with its 500 ms timeout)
        let flags = ["--shutdown-drain-ms", "2500", "--shutdown-grace-ms", "5000"];
        let (c, instances) = cluster(&db.url, &flags).await;
        let stop = Arc::new(AtomicBool::new(false));
        let lb = balancer(instances.clone(), stop.clone());
        for n in 0..3 {
            wait_ready(&instances, n).await;
        }
        let (done, failures) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(Mutex::new(Vec::new())),
        );
        let next_user = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for w in 0..4 {
            let (c, instances, stop) = (c.clone(), instances.clone(), stop.clone());
            let (done, failures, next_user) = (done.clone(), failures.clone(), next_user.clone());
            workers.push(tokio::spawn(async move {
                let mut turn = w;
                while !stop.load(Ordering::Relaxed) {
                    turn += 1;
                    let Some(base) = pick(&instances, turn) else {
                        failures
                            .lock()
                            .unwrap()
                            .push("no instance was ready".to_string());
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let outcome = if turn.is_multiple_of(2) {
                        c.call(
                            &base,
                            reqwest::Method::POST,
                            "/v1/authorize",
                            Some(authorize("rolling")),
                            None,
                        )
                        .await
                    } else {
                        let user = next_user.fetch_add(1, Ordering::Relaxed) % USERS;
                        c.call(
                            &base,
                            reqwest::Method::POST,
                            "/v1/grants",
                            Some(grant(user)),
                            Some(&format!("rolling-{w}-{turn}")),
                        )
                        .await
                    };
                    match outcome {
                        Ok((200 | 201, _)) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok((s, v)) => failures.lock().unwrap().push(format!("{base}: {s} {v}")),
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        for n in 0..3 {
            let pid = instances.lock().unwrap()[n].child.id();
            // SAFETY: signalling a child process this test started.
            assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
            let before = done.load(Ordering::Relaxed);
            let status = loop {
                let exited = instances.lock().unwrap()[n].child.try_wait().unwrap();
                if let Some(s) = exited {
                    break s;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            assert!(status.success(), "instance {n} exited with {status}");
            assert!(
                done.load(Ordering::Relaxed) > before,
                "no load while instance {n} stopped"
            );
            let fresh = start(&db.url, &flags);
            instances.lock().unwrap()[n] = fresh;
            wait_ready(&instances, n).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.unwrap();
        }
        lb.await.unwrap();
        let failures = failures.lock().unwrap().clone();
        assert!(
            failures.is_empty(),
            "{} failed requests: {:?}",
            failures.len(),
            &failures[..failures.len().min(10)]
        );
        assert!(
            done.load(Ordering::Relaxed) > 100,
            "too little load to show anything"
        );
        let base = instances.lock().unwrap()[0].addr.clone();
        let (s, v) = c
            .call(
                &base,
                reqwest::Method::GET,
                "/v1/audit-events/verify",
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!((s, &v["ok"]), (200, &json!(true)), "{v}");
        for i in instances.lock().unwrap().iter_mut() {
            let _ = i.child.kill();
            let _ = i.child.wait();
        }
    });
}

#[test]
fn kill_9_of_one_of_three_instances_under_load_loses_and_duplicates_nothing() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    runtime().block_on(async {
        let db = common::PgDatabase::create().await;
        let (c, instances) = cluster(&db.url, &[]).await;
        let addrs: Vec<String> = instances.lock().unwrap().iter().map(|i| i.addr.clone()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        // acknowledged: authorize tags, and grant ids by idempotency key
        let decided = Arc::new(Mutex::new(Vec::<String>::new()));
        let granted = Arc::new(Mutex::new(HashMap::<String, String>::new()));
        let next_user = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for w in 0..6 {
            let (c, addrs, stop) = (c.clone(), addrs.clone(), stop.clone());
            let (decided, granted, next_user) = (decided.clone(), granted.clone(), next_user.clone());
            workers.push(tokio::spawn(async move {
                let mut n = 0usize;
                let mut turn = w;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    if n.is_multiple_of(2) {
                        let tag = format!("crash-{w}-{n}");
                        // a failed call is not acknowledged: it may or may not be recorded
                        turn += 1;
                        let base = &addrs[turn % addrs.len()];
                        if let Ok((200, _)) = c.call(base, reqwest::Method::POST, "/v1/authorize",
                            Some(authorize(&tag)), None).await {
                            decided.lock().unwrap().push(tag);
                        }
                        continue;
                    }
                    // a grant request is retried on the next instance, with the same key,
                    // until one answers: the killed instance may have committed it unanswered
                    let idem = format!("crash-{w}-{n}");
                    let body = grant(next_user.fetch_add(1, Ordering::Relaxed) % USERS);
                    loop {
                        turn += 1;
                        let base = &addrs[turn % addrs.len()];
                        match c.call(base, reqwest::Method::POST, "/v1/grants", Some(body.clone()),
                            Some(&idem)).await {
                            Ok((201, v)) => {
                                let id = v["id"].as_str().unwrap().to_string();
                                granted.lock().unwrap().insert(idem.clone(), id);
                                break;
                            }
                            Ok((s, v)) if s < 500 => panic!("{base}: {s} {v}"),
                            _ => tokio::time::sleep(Duration::from_millis(5)).await,
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        {
            let mut all = instances.lock().unwrap();
            all[2].child.kill().unwrap(); // SIGKILL
            all[2].child.wait().unwrap();
        }
        let at_kill = granted.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.unwrap();
        }
        let granted = granted.lock().unwrap().clone();
        let decided = decided.lock().unwrap().clone();
        assert!(granted.len() > at_kill, "the survivors kept granting: {at_kill} -> {}", granted.len());

        // every acknowledged grant is there once; no idempotency key made two
        let pg = sqlx::PgPool::connect(&db.url).await.unwrap();
        let rows: Vec<(String,)> = sqlx::query_as("SELECT CAST(id AS TEXT) FROM grants")
            .fetch_all(&pg).await.unwrap();
        let stored: HashSet<String> = rows.into_iter().map(|(id,)| id).collect();
        let acked: HashSet<&String> = granted.values().collect();
        assert_eq!(acked.len(), granted.len(), "two keys answered with one grant");
        for id in &acked {
            assert!(stored.contains(*id), "acknowledged grant {id} is missing");
        }
        let requests: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'grant.request'")
            .fetch_one(&pg).await.unwrap();
        assert_eq!(requests as usize, stored.len(), "one grant.request event per stored grant");
        // each request was retried until answered, so every stored grant was acknowledged
        assert_eq!(stored.len(), granted.len(), "stored grants no client was answered with");
        // every acknowledged decision is in the log exactly once (each tag was sent once)
        let reasons: Vec<(String,)> = sqlx::query_as(
            "SELECT body::jsonb #>> '{request,context,reason}' FROM audit_events WHERE kind = 'authorize'")
            .fetch_all(&pg).await.unwrap();
        let mut logged: HashMap<String, usize> = HashMap::new();
        for (r,) in reasons {
            *logged.entry(r).or_default() += 1;
        }
        for tag in &decided {
            match logged.get(tag) {
                Some(1) => {}
                None => panic!("acknowledged decision {tag} is missing from the log"),
                Some(n) => panic!("acknowledged decision {tag} is in the log {n} times"),
            }
        }
        // and no tag at all, acknowledged or not, was logged twice
        let twice: Vec<(&String, &usize)> = logged.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "decisions logged more than once: {twice:?}");
        assert!(!decided.is_empty());
        let (s, v) = c.call(&addrs[0], reqwest::Method::GET, "/v1/audit-events/verify", None, None)
            .await
            .unwrap();
        assert_eq!((s, &v["ok"]), (200, &json!(true)), "{v}");
        pg.close().await;
        for i in instances.lock().unwrap().iter_mut() {
            let _ = i.child.kill();
            let _ = i.child.wait();
        }
    });
}

#[test]
fn instances_starting_together_on_a_new_database_bootstrap_one_tenant() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    runtime().block_on(async {
        let db = common::PgDatabase::create().await;
        // the database exists but is empty: all three migrate and look for a tenant at once
        let mut instances: Vec<Instance> = std::thread::scope(|s| {
            let started: Vec<_> = (0..3).map(|_| s.spawn(|| start(&db.url, &[]))).collect();
            started.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let files = instances
            .iter()
            .filter(|i| i._dir.path().join("grantd-bootstrap.json").exists())
            .count();
        assert_eq!(files, 1, "one instance bootstraps");
        let pg = sqlx::PgPool::connect(&db.url).await.unwrap();
        let tenants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
            .fetch_one(&pg)
            .await
            .unwrap();
        assert_eq!(tenants, 1);
        pg.close().await;
        for i in instances.iter_mut() {
            let _ = i.child.kill();
            let _ = i.child.wait();
        }
    });
}
