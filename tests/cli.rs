//! The command line, run as the real binary.

mod common;

use common::{policies_dir, Backend};
use grantd::clock::SystemClock;
use grantd::config::Config;

use std::process::Command;
use std::sync::Arc;

fn grantd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_grantd"));
    c.env_remove("GRANTD_DATABASE_URL")
        .env_remove("GRANTD_POLICIES_DIR")
        .env_remove("GRANTD_BIND")
        .env_remove("GRANTD_LOG");
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("grantd runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Serves the database at `url` in-process, to check what the CLI wrote.
async fn serve(url: &str) -> (String, tokio::sync::oneshot::Sender<()>) {
    let app = grantd::App::open(Config::new(url, policies_dir()), Arc::new(SystemClock))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async {
        let _ = rx.await;
    }));
    (base, tx)
}

async fn get_keys(base: &str, key: &str, tenant: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/v1/keys"))
        .header("X-API-Key", key)
        .header("X-Tenant-ID", tenant)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tenant_create_json_prints_one_line_whose_key_works() {
        let db = common::fresh_database().await;
        let url = db.url.clone();
        let r = run(grantd()
            .args([
                "tenant",
                "create",
                "acme",
                "--json",
                "--database-url",
                &url,
                "--policies-dir",
            ])
            .arg(policies_dir()));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        let tenant = v["tenant_id"].as_str().unwrap();
        let key = v["api_key"].as_str().unwrap();
        assert_eq!(v.as_object().unwrap().len(), 2);

        // global options before the subcommand work too
        let r2 = run(grantd()
            .args(["--database-url", &url, "--policies-dir"])
            .arg(policies_dir())
            .args([
                "key", "create", "--tenant", tenant, "--role", "auditor", "--json",
            ]));
        assert_eq!(r2.code, 0, "{}", r2.stderr);
        let k2: serde_json::Value = serde_json::from_str(r2.stdout.trim()).unwrap();
        let auditor_key = k2["api_key"].as_str().unwrap();

        let (base, _stop) = serve(&url).await;
        assert_eq!(get_keys(&base, key, tenant).await, 200);
        assert_eq!(get_keys(&base, auditor_key, tenant).await, 403);

        // revoke from the CLI: the next request fails
        let r3 = run(grantd().env("GRANTD_DATABASE_URL", &url).args([
            "key",
            "revoke",
            "--tenant",
            tenant,
            k2["key_id"].as_str().unwrap(),
        ]));
        assert_eq!(r3.code, 0, "{}", r3.stderr);
        // The server caches keys; a revocation made by another process reaches it through the
        // change poller (every second by default), not at once.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while get_keys(&base, auditor_key, tenant).await != 401 {
            assert!(
                std::time::Instant::now() < deadline,
                "CLI revocation never took effect"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // revoking a key of no such tenant is an error with one line
        let r4 = run(grantd().env("GRANTD_DATABASE_URL", &url).args([
            "key",
            "revoke",
            "--tenant",
            "0190a5e0-0000-7000-8000-000000000001",
            k2["key_id"].as_str().unwrap(),
        ]));
        assert_eq!(r4.code, 1);
        assert_eq!(r4.stderr.trim().lines().count(), 1, "{}", r4.stderr);
    }

    /// `grantd tenant quota`: set, show, clear; a running server applies it without a
    /// restart; bad input is a usage error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tenant_quota_sets_shows_and_clears_a_tenants_limit() {
        let db = common::fresh_database().await;
        let url = db.url.clone();
        let r = run(grantd()
            .args(["tenant", "create", "acme", "--json", "--database-url", &url, "--policies-dir"])
            .arg(policies_dir()));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        let (tenant, key) = (v["tenant_id"].as_str().unwrap(), v["api_key"].as_str().unwrap());
        let quota = |args: &[&str]| {
            run(grantd()
                .env("GRANTD_DATABASE_URL", &url)
                .args(["tenant", "quota", tenant])
                .args(args))
        };
        let r = quota(&[]);
        assert_eq!((r.code, r.stdout.trim()), (0, "null"), "{}", r.stderr);
        let (base, _stop) = serve(&url).await;
        let r = quota(&["--rps", "1", "--burst", "2"]);
        assert_eq!((r.code, r.stdout.trim()), (0, r#"{"rps":1,"burst":2}"#), "{}", r.stderr);
        // The server applies it within a second or so: the third call at once is refused.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let codes = [
                get_keys(&base, key, tenant).await,
                get_keys(&base, key, tenant).await,
                get_keys(&base, key, tenant).await,
            ];
            if codes.contains(&429) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the CLI's quota never applied");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(quota(&[]).stdout.trim(), r#"{"rps":1,"burst":2}"#);
        let r = quota(&["--clear"]);
        assert_eq!((r.code, r.stdout.trim()), (0, "null"), "{}", r.stderr);
        for bad in [&["--rps", "0", "--burst", "1"][..], &["--rps", "5"], &["--rps", "1", "--burst", "1", "--clear"]] {
            let r = quota(bad);
            assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        }
        for extra in [&["--rps", "1", "--burst", "1"][..], &[]] {
            let r = run(grantd()
                .env("GRANTD_DATABASE_URL", &url)
                .args(["tenant", "quota", "0190a5e0-0000-7000-8000-000000000001"])
                .args(extra));
            assert_eq!(r.code, 1, "{}", r.stderr);
            assert!(r.stderr.contains("no such tenant"), "{}", r.stderr);
        }
    }
}

// Once, not per backend: no database is opened.
#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        vec!["frobnicate"],
        vec![],
        vec!["tenant"],
        vec!["key", "create", "--tenant", "not-a-uuid", "--role", "admin"],
        vec![
            "key",
            "create",
            "--tenant",
            "0190a5e0-0000-7000-8000-000000000001",
            "--role",
            "root",
        ],
        vec!["serve", "--log-format", "xml"],
    ] {
        let r = run(grantd().args(&args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    let help = run(grantd().arg("--help"));
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("serve"));
}

// Once, not per backend: about failing to start (URLs, a missing policies directory).
#[test]
fn other_failures_exit_1_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // a PostgreSQL server that refuses the role (or none at all): the password is not shown
    let r = run(grantd().args([
        "migrate",
        "--database-url",
        "postgres://u:s3cret-pw@localhost/db",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    let r = run(grantd().args(["migrate", "--database-url", "mysql://x"]));
    assert_eq!(r.code, 1);
    // a missing policies directory
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let r = run(grantd().args([
        "tenant",
        "create",
        "x",
        "--database-url",
        &url,
        "--policies-dir",
        "/nonexistent",
    ]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("schema"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1);
    let r = run(grantd().args(["migrate", "--database-url", &url]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_bootstraps_logs_the_path_not_the_key_and_stops_on_sigterm() {
        // SQLite: the default database URL, `grantd.db` in the working directory.
        let db = common::fresh_database().await;
        let url_flag = ["--database-url", db.url.as_str()];
        let extra: &[&str] = match db.backend {
            Backend::Sqlite => &[],
            Backend::Postgres => &url_flag,
        };
        let dir = &db.dir;
        let (mut child, addr, mut log, rx) = common::spawn_serve(dir.path(), extra);
        let path = dir.path().join("grantd-bootstrap.json");
        let boot: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let key = boot["api_key"].as_str().unwrap();
        let tenant = boot["tenant_id"].as_str().unwrap();
        assert!(log.iter().any(|l| l.contains("grantd-bootstrap.json")));
        assert!(log.iter().all(|l| !l.contains(key)));
        let base = format!("http://{addr}");
        assert_eq!(get_keys(&base, key, tenant).await, 200);
        // the request id is on the response and on the log line of that request
        let resp = reqwest::Client::new()
            .get(format!("{base}/v1/keys"))
            .header("X-API-Key", key)
            .header("X-Tenant-ID", "0190a5e0-0000-7000-8000-000000000001")
            .header("x-request-id", "req-abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(resp.headers()["x-request-id"], "req-abc-123");

        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert_eq!(status.code(), Some(0));
        while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(2)) {
            log.push(line);
        }
        assert!(log.iter().any(|l| l.contains("req-abc-123")), "{log:#?}");
        assert!(log.iter().all(|l| !l.contains(key)));
    }
}

/// An authorize call for `User::"u{user}"` with the tenant's admin key.
async fn authorize(s: &common::TestServer, t: &common::Tenant, user: usize) -> common::Resp {
    common::send(
        s,
        &t.admin_key,
        t,
        reqwest::Method::POST,
        "/v1/authorize",
        Some(
            serde_json::json!({"principal": {"type": "User", "id": format!("u{user}")},
            "action": {"type": "Action", "id": "request"},
            "resource": {"type": "App", "id": "github"},
            "context": {"scopes": [], "reason": "", "extension_count": 0}}),
        ),
    )
    .await
}

// SQLite only: `grantd backup` copies a SQLite database and its decision journal.
/// `grantd backup` while the server runs: the copy holds every decision acknowledged
/// before it (they are still only in the decision journal, which the copy does not have),
/// its chain verifies, and the server goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_running_server_with_every_acknowledged_event() {
    let s = common::TestServer::start().await;
    let t = s.tenant().await;
    let decide = |user: usize| authorize(&s, &t, user);
    for i in 0..40 {
        assert_eq!(decide(i).await.status, 200);
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let r = run(grantd()
        .args(["backup", "--database-url", &s.db_url])
        .arg(&copy));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("moved from the decision journal"),
        "{}",
        r.stdout
    );
    // The server goes on.
    assert_eq!(decide(99).await.status, 200);
    // A second backup to the same path is refused and changes nothing.
    let before = std::fs::read(&copy).unwrap();
    let again = run(grantd()
        .args(["backup", "--database-url", &s.db_url])
        .arg(&copy));
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    assert_eq!(std::fs::read(&copy).unwrap(), before);

    // Restored: a server on the copy alone has the 40 decisions and a verified chain.
    let url = format!("sqlite://{}", copy.display());
    let (base, stop) = serve(&url).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("{base}{path}"))
            .header("X-API-Key", &t.admin_key)
            .header("X-Tenant-ID", &t.id)
            .send()
    };
    let v: serde_json::Value = get("/v1/audit-events/verify".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let events: serde_json::Value = get("/v1/audit-events?kind=authorize&per_page=100".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = events["items"].as_array().map(|a| a.len());
    assert_eq!(n, Some(40), "{events}");
    let _ = stop.send(());
}

// SQLite only: SQLite's write lock and `grantd backup`.
/// A backup waits for SQLite's write lock before it takes the decision journal's (the order
/// every writer keeps): while another connection holds SQLite's lock, decisions go on, and
/// the backup completes once the lock is free. Taking them the other way round locked up
/// with the server's own writes. A source that does not exist is refused, not created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_keeps_the_lock_order_and_never_creates_its_source() {
    let s = common::TestServer::start().await;
    let t = s.tenant().await;
    let decide = || authorize(&s, &t, 1);
    for _ in 0..10 {
        assert_eq!(decide().await.status, 200);
    }
    let holder = rusqlite::Connection::open(&s.db_path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let backup = grantd()
        .args(["backup", "--database-url", &s.db_url])
        .arg(&copy)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let d = tokio::time::timeout(std::time::Duration::from_secs(2), decide())
        .await
        .expect("a decision waited behind the backup");
    assert_eq!(d.status, 200, "{}", d.text);
    holder.execute_batch("ROLLBACK").unwrap();
    let out = tokio::task::spawn_blocking(move || backup.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: i64 = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'authorize'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 11, "every decision acknowledged before the backup");

    let missing = dir.path().join("no-such.db");
    let r = run(grantd()
        .args([
            "backup",
            "--database-url",
            &format!("sqlite://{}", missing.display()),
        ])
        .arg(dir.path().join("other.db")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no database at"), "{}", r.stderr);
    assert!(!missing.exists(), "the backup created its source");
    assert!(!dir.path().join("other.db").exists());
}
