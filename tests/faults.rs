//! Faults an operator meets, injected into a real server: a full disk, slow and idle
//! clients, more connections than the cap, and a shutdown with clients that do not finish.
//!
//! All on SQLite only (not in `backends!`): the disk faults are SQLite's files and decision
//! journal on a full file system, and the others are the HTTP layer's, whatever the database.

mod common;

use common::{send, Resp, Tenant, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A tmpfs of `mib` MiB mounted on a fresh directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` when this process may not mount a file system (not root, or a container
    /// without the capability): the disk tests then cannot run here, and say so. The
    /// project's machines and CI can.
    fn mount(mib: u32) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        if !out.status.success() {
            eprintln!(
                "skipped: mounting a tmpfs was refused: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system holding `dir` with one file, until it refuses a write.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 64 << 10, 4 << 10, 512] {
        let buf = vec![1u8; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    let _ = f.sync_all();
    path
}

fn users(n: usize) -> Value {
    let mut v = vec![
        json!({"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []}),
        json!({"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []}),
    ];
    for i in 0..n {
        v.push(
            json!({"uid": {"type": "User", "id": format!("u{i}")}, "attrs": {},
            "parents": [{"type": "Group", "id": "engineering"}]}),
        );
    }
    Value::Array(v)
}

/// A server whose database is under `dir`, with a tenant of `users` engineers who may be
/// granted anything, and a requester key.
async fn server_with_grants(dir: &Path, users_n: usize) -> (TestServer, Tenant, String) {
    let s = TestServer::start_in(dir, |_| {}).await;
    let t = s.tenant().await;
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::PUT,
        "/v1/entities",
        Some(users(users_n)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let policy = json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [
        {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
         "principal_entity_id": "engineering", "action_scope_type": "in",
         "action_ids": ["request", "extend"], "resource_scope_type": "any"}]});
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::POST,
        "/v1/policies",
        Some(policy),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let key = s.key(&t, "requester").await;
    (s, t, key)
}

async fn grant(s: &TestServer, key: &str, t: &Tenant, user: usize) -> Resp {
    send(
        s,
        key,
        t,
        Method::POST,
        "/v1/grants",
        Some(
            json!({"principal": {"type": "User", "id": format!("u{user}")},
            "resource": {"type": "App", "id": "github"}, "reason": "disk test"}),
        ),
    )
    .await
}

async fn authorize(s: &TestServer, key: &str, t: &Tenant, user: usize) -> Resp {
    send(
        s,
        key,
        t,
        Method::POST,
        "/v1/authorize",
        Some(
            json!({"principal": {"type": "User", "id": format!("u{user}")},
            "action": {"type": "Action", "id": "request"},
            "resource": {"type": "App", "id": "github"},
            "context": {"scopes": [], "reason": "", "extension_count": 0}}),
        ),
    )
    .await
}

/// A 503 in the envelope with `Retry-After`.
fn assert_unavailable(r: &Resp) {
    r.assert_error(503, "unavailable");
    assert!(
        r.headers.get("retry-after").is_some(),
        "503 without Retry-After"
    );
}

// SQLite only: SQLite's files on a full file system.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_reports_not_ready_and_heals_without_a_restart() {
    let Some(fs) = Tmpfs::mount(48) else {
        return;
    };
    let (s, t, key) = server_with_grants(fs.path(), 400).await;
    let ready = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    let mut acknowledged: Vec<String> = Vec::new();
    let mut user = 0;
    for _ in 0..5 {
        let r = grant(&s, &key, &t, user).await;
        assert_eq!(r.status, 201, "{}", r.text);
        acknowledged.push(r.body["id"].as_str().unwrap().to_string());
        user += 1;
    }

    // The disk fills up. Every write answers 201 (it still fit) or 503, never 500.
    let filler = fill(fs.path());
    let mut refused = 0;
    let mut decisions_refused = 0;
    let until = Instant::now() + Duration::from_secs(60);
    while refused < 20 && Instant::now() < until {
        let r = grant(&s, &key, &t, user).await;
        user += 1;
        match r.status.as_u16() {
            201 => acknowledged.push(r.body["id"].as_str().unwrap().to_string()),
            _ => {
                assert_unavailable(&r);
                refused += 1;
            }
        }
        let r = authorize(&s, &key, &t, 0).await;
        match r.status.as_u16() {
            200 => assert_eq!(r.body["decision"], "ALLOW", "{}", r.text),
            _ => {
                assert_unavailable(&r);
                decisions_refused += 1;
            }
        }
    }
    assert!(
        refused >= 20,
        "a full disk refused only {refused} grant writes"
    );
    // Readiness tells the truth while writes fail.
    let ready = TestServer::read(
        s.client
            .get(format!("{}/readyz", s.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_unavailable(&ready);
    assert!(
        ready.body["message"]
            .as_str()
            .unwrap()
            .starts_with("not ready"),
        "{}",
        ready.text
    );
    // Reads still answer.
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::GET,
        &format!("/v1/grants/{}", acknowledged[0]),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    eprintln!("while full: {refused} grant writes and {decisions_refused} decisions answered 503");

    // Space returns: writes, decisions and readiness recover, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let until = freed + Duration::from_secs(30);
    let (mut writes_back, mut decisions_back) = (None, None);
    let healed = loop {
        let g = grant(&s, &key, &t, user).await;
        user += 1;
        if g.status == 201 {
            acknowledged.push(g.body["id"].as_str().unwrap().to_string());
        } else {
            assert_unavailable(&g);
        }
        let d = authorize(&s, &key, &t, 0).await;
        if d.status != 200 {
            assert_unavailable(&d);
        }
        if g.status == 201 {
            writes_back.get_or_insert(freed.elapsed());
        }
        if d.status == 200 {
            decisions_back.get_or_insert(freed.elapsed());
        }
        let ready = s
            .client
            .get(format!("{}/readyz", s.base))
            .send()
            .await
            .unwrap();
        if g.status == 201 && d.status == 200 && ready.status() == 200 {
            break true;
        }
        if Instant::now() > until {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        healed,
        "grantd did not recover within 30 s of space returning"
    );
    eprintln!(
        "after space returned: writes succeeded after {writes_back:?}, decisions after {decisions_back:?}, ready after {:?}",
        freed.elapsed()
    );
    // The pool has no connection left out of step: many writes in a row succeed.
    for _ in 0..20 {
        let r = grant(&s, &key, &t, user).await;
        user += 1;
        assert_eq!(r.status, 201, "{}", r.text);
        acknowledged.push(r.body["id"].as_str().unwrap().to_string());
        assert_eq!(authorize(&s, &key, &t, 0).await.status, 200);
    }
    // Every acknowledged grant is there, and the audit chain verifies.
    for id in &acknowledged {
        let r = send(
            &s,
            &t.admin_key,
            &t,
            Method::GET,
            &format!("/v1/grants/{id}"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "acknowledged grant {id} lost: {}", r.text);
    }
    let v = send(
        &s,
        &t.admin_key,
        &t,
        Method::GET,
        "/v1/audit-events/verify",
        None,
    )
    .await;
    assert_eq!(v.body["ok"], true, "{}", v.text);
    let mut s = s;
    s.stop();
    if let Some(task) = s.task.take() {
        task.await.unwrap().unwrap();
    }
}

// SQLite only: the SQLite store's decision journal on a full file system.
/// A decision journal that must grow (8 MiB at a time) on a disk with less room than that
/// refuses the decision, and gives back what part of the growth it wrote: the disk is no
/// fuller than before, so a write that fits still succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_growth_the_disk_cannot_take_gives_its_space_back() {
    let Some(fs) = Tmpfs::mount(32) else {
        return;
    };
    let (s, t, key) = server_with_grants(fs.path(), 10).await;
    // Fill the disk, then free 3 MiB: room for a grant, not for 8 MiB of journal.
    let filler = fill(fs.path());
    let len = std::fs::metadata(&filler).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(len - (3 << 20))
        .unwrap();
    let d = authorize(&s, &key, &t, 0).await;
    assert_unavailable(&d);
    let g = grant(&s, &key, &t, 1).await;
    assert_eq!(
        g.status, 201,
        "the failed growth kept the room a grant needs: {}",
        g.text
    );
    // Space returns: the journal grows and decisions go on.
    std::fs::remove_file(&filler).unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let d = authorize(&s, &key, &t, 0).await;
        if d.status == 200 {
            break;
        }
        assert_unavailable(&d);
        assert!(Instant::now() < until, "decisions did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fast_server(tweak: impl FnOnce(&mut grantd::config::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.server.header_read_timeout = Duration::from_millis(500);
        c.server.idle_timeout = Duration::from_millis(700);
        c.server.body_read_timeout = Duration::from_millis(500);
        tweak(c);
    })
    .await
}

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Reads until the peer closes the connection (`Ok(bytes read)`), or `within` passes.
async fn closed_within(c: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let until = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(until, c.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

// SQLite only: connection timeouts are the HTTP layer's (kept off PostgreSQL for speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_idle_connections_and_trickling_bodies_are_closed() {
    let s = fast_server(|_| {}).await;
    let addr = addr(&s);
    // 200 clients send a request head a byte at a time, every 100 ms.
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut slow = Vec::new();
    for _ in 0..200 {
        slow.push(TcpStream::connect(&addr).await.unwrap());
    }
    let drip = tokio::spawn(async move {
        let mut closed = vec![false; slow.len()];
        for &b in head.iter() {
            for (i, c) in slow.iter_mut().enumerate() {
                if !closed[i] && c.write_all(&[b]).await.is_err() {
                    closed[i] = true;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if closed.iter().all(|c| *c) {
                break;
            }
        }
        let mut all_closed = true;
        for c in slow.iter_mut() {
            all_closed &= closed_within(c, Duration::from_secs(5)).await.is_some();
        }
        all_closed
    });
    // Meanwhile the server answers others.
    for _ in 0..5 {
        let r = s
            .client
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(drip.await.unwrap(), "a slow head was not cut off");

    // A keep-alive connection with nothing more to ask is closed after the idle timeout.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = closed_within(&mut idle, Duration::from_secs(10))
        .await
        .expect("an idle connection stays open");
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // A body that trickles in is cut off with a 400 in the envelope.
    let mut c = TcpStream::connect(&addr).await.unwrap();
    c.write_all(
        b"POST /v1/authorize HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"principal\"",
    )
    .await
    .unwrap();
    let got = closed_within(&mut c, Duration::from_secs(10))
        .await
        .expect("a trickling body keeps its connection");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");

    // A client that sends its request and shuts down its sending side gets its answer.
    let mut c = TcpStream::connect(&addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    c.shutdown().await.unwrap();
    let got = closed_within(&mut c, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

// SQLite only: the body limit is the HTTP layer's (kept off PostgreSQL for speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_declared_over_the_limit_is_refused_at_once() {
    let s = TestServer::start_with(|c| {
        c.server.body_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(b"POST /v1/authorize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n{")
        .await
        .unwrap();
    let got = closed_within(&mut c, Duration::from_secs(10))
        .await
        .expect("an oversized body waited for its bytes");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
}

// SQLite only: the connection cap is the HTTP layer's (kept off PostgreSQL for speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_new_connections_get_503_and_the_cap_frees_up() {
    let s = fast_server(|c| {
        c.server.max_connections = 8;
        c.server.header_read_timeout = Duration::from_secs(30);
        c.server.idle_timeout = Duration::from_secs(30);
    })
    .await;
    let addr = addr(&s);
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        // A request makes sure the server has taken the connection in.
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = c.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(c);
    }
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let got = closed_within(&mut extra, Duration::from_secs(10))
        .await
        .expect("a connection past the cap is closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    assert!(text.contains("\"code\":\"unavailable\""), "{text}");

    drop(held);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = reqwest::Client::new()
            .get(format!("{}/healthz", s.base))
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < until,
            "closed connections did not free the cap"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// SQLite only: the shutdown deadline is the HTTP layer's (kept off PostgreSQL for speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_what_is_in_flight_and_ends_by_its_deadline() {
    let mut s = TestServer::start_with(|c| {
        c.shutdown_grace = Duration::from_millis(1500);
        c.server.header_read_timeout = Duration::from_secs(60);
        c.server.idle_timeout = Duration::from_secs(60);
        c.server.body_read_timeout = Duration::from_secs(60);
    })
    .await;
    let t = s.tenant().await;
    let addr = addr(&s);
    // Clients still sending their heads, and idle keep-alive ones.
    let mut waiting = Vec::new();
    for i in 0..10 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 0 {
            c.write_all(b"GET /healthz HTTP/1.1\r\nHos").await.unwrap();
        }
        waiting.push(c);
    }
    // A request in flight whose body never finishes: it holds its connection until the
    // deadline.
    let mut stuck = TcpStream::connect(&addr).await.unwrap();
    stuck
        .write_all(format!("POST /v1/authorize HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nX-Tenant-ID: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{", t.admin_key, t.id).as_bytes())
        .await
        .unwrap();
    // A request in flight that completes.
    let slow_ok = {
        let (base, key, tenant) = (s.base.clone(), t.admin_key.clone(), t.id.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/authorize"))
                .header("X-API-Key", key)
                .header("X-Tenant-ID", tenant)
                .json(&json!({"principal": {"type": "User", "id": "x"},
                    "action": {"type": "Action", "id": "request"},
                    "resource": {"type": "App", "id": "y"},
                    "context": {"scopes": [], "reason": "", "extension_count": 0}}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    s.stop();
    // Connections with nothing in flight close at once.
    for c in waiting.iter_mut() {
        assert!(
            closed_within(c, Duration::from_secs(1)).await.is_some(),
            "a connection without a request in flight was kept open at shutdown"
        );
    }
    assert_eq!(slow_ok.await.unwrap().unwrap(), 200);
    // The server ends by its deadline, though a client never finished its request.
    let task = s.task.take().unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), task).await;
    assert!(
        ended.is_ok(),
        "the server did not stop within 10 s of its 1.5 s deadline"
    );
    ended.unwrap().unwrap().unwrap();
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(1000),
        "the stuck request was cut before the deadline ({took:?})"
    );
    assert!(closed_within(&mut stuck, Duration::from_secs(1))
        .await
        .is_some());
}

// SQLite only: the process's shutdown deadline, whatever the database (kept off PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_stuck_clients_exits_by_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _, _log) =
        common::spawn_serve(dir.path(), &["--shutdown-grace-ms", "1000"]);
    let boot: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("grantd-bootstrap.json")).unwrap(),
    )
    .unwrap();
    // 20 clients in the middle of a request that never ends, as in the report.
    let mut stuck = Vec::new();
    for _ in 0..20 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(format!("POST /v1/authorize HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nX-Tenant-ID: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{", boot["api_key"].as_str().unwrap(), boot["tenant_id"].as_str().unwrap()).as_bytes()).await.unwrap();
        stuck.push(c);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = tokio::task::spawn_blocking(move || {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return Some(st);
            }
            if Instant::now() > until {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    let status = status.expect("grantd did not exit within 15 s of SIGTERM with a 1 s grace");
    assert_eq!(status.code(), Some(0));
    drop(stuck);
}
