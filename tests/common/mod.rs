//! Test harness: a real grantd on 127.0.0.1:0 over a fresh SQLite file, a settable clock, and
//! helpers to create tenants and keys and to call the API.
#![allow(dead_code)]

use chrono::Utc;
use grantd::clock::ManualClock;
use grantd::config::Config;
use grantd::http::AppState;
use grantd::App;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn policies_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub db_path: std::path::PathBuf,
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub admin_key: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    /// Asserts the contract's error envelope.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.code(), code, "body: {}", self.text);
        assert!(
            self.body["message"].is_string(),
            "no message: {}",
            self.text
        );
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_in(&std::env::temp_dir(), tweak).await
    }

    /// A server whose database lives in a fresh directory under `parent` (a file system
    /// a test controls, for example).
    pub async fn start_in(parent: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir_in(parent).expect("tempdir");
        let db_path = dir.path().join("grantd.db");
        let db_url = format!("sqlite://{}", db_path.display());
        let mut config = Config::new(db_url.clone(), policies_dir());
        tweak(&mut config);
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let app = App::open(config, clock.clone()).await.expect("app opens");
        let state = app.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async {
            let _ = rx.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            state,
            clock,
            client: reqwest::Client::new(),
            db_path,
            db_url,
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Asks the server to stop (graceful shutdown).
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// A fresh tenant with the default schema and its first admin key.
    pub async fn tenant(&self) -> Tenant {
        let s = &self.state.services;
        let schema = grantd::service::tenants::load_default_schema(&policies_dir()).unwrap();
        let (id, key) = grantd::service::tenants::create(&s.store, "test", schema, s.clock.now())
            .await
            .expect("tenant");
        Tenant {
            id: id.to_string(),
            admin_key: key,
        }
    }

    /// A key with `role` in `t`, created through the API.
    pub async fn key(&self, t: &Tenant, role: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/v1/keys",
                Some(&t.admin_key),
                Some(&t.id),
                Some(serde_json::json!({"role": role, "name": format!("{role} key")})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["key"].as_str().unwrap().to_string()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        tenant: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        if let Some(t) = tenant {
            req = req.header("X-Tenant-ID", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    /// GET with the tenant's admin key.
    pub async fn admin_get(&self, t: &Tenant, path: &str) -> Resp {
        self.call(Method::GET, path, Some(&t.admin_key), Some(&t.id), None)
            .await
    }

    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    /// A second connection to the database file, for tampering and inspection. Acknowledged
    /// decision events are first moved from the store's inbox into `audit_events`, where
    /// inspection looks (the store's own reads do the same).
    pub async fn db(&self) -> sqlx::SqlitePool {
        // Any read of the log first moves what the store holds elsewhere (SQLite: its
        // decision journal) into `audit_events`.
        self.state
            .services
            .store
            .list_events(
                grantd::domain::ids::TenantId::new(),
                &grantd::store::EventFilter::default(),
                None,
                1,
            )
            .await
            .expect("settle the decision log");
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&self.db_url)
            .await
            .expect("test db connection")
    }

    /// `(kind, body)` of a tenant's audit events in seq order.
    pub async fn events(&self, tenant: &str) -> Vec<(String, Value)> {
        let db = self.db().await;
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT kind, body FROM audit_events WHERE tenant_id = $1 ORDER BY seq")
                .bind(tenant)
                .fetch_all(&db)
                .await
                .unwrap();
        db.close().await;
        rows.into_iter()
            .map(|(k, b)| (k, serde_json::from_str(&b).unwrap()))
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A call with `key` for tenant `t`.
pub async fn send(
    s: &TestServer,
    key: &str,
    t: &Tenant,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    s.call(m, path, Some(key), Some(&t.id), body).await
}

/// A call with `key` for tenant `t`, made for a human (`X-On-Behalf-Of: obo`).
pub async fn send_on_behalf(
    s: &TestServer,
    key: &str,
    t: &Tenant,
    m: Method,
    path: &str,
    body: Option<Value>,
    obo: &str,
) -> Resp {
    let mut r = s
        .client
        .request(m, format!("{}{path}", s.base))
        .header("X-API-Key", key)
        .header("X-Tenant-ID", &t.id)
        .header("X-On-Behalf-Of", obo);
    if let Some(b) = body {
        r = r.json(&b);
    }
    TestServer::read(r.send().await.unwrap()).await
}

/// `grantd serve` as a child process in `dir` (JSON logs on a pipe), with `extra` flags:
/// the child, its address, and its log lines so far and to come.
pub fn spawn_serve(
    dir: &std::path::Path,
    extra: &[&str],
) -> (
    std::process::Child,
    String,
    Vec<String>,
    std::sync::mpsc::Receiver<String>,
) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_grantd"))
        .env_remove("GRANTD_DATABASE_URL")
        .env_remove("GRANTD_POLICIES_DIR")
        .env_remove("GRANTD_BIND")
        .env_remove("GRANTD_LOG")
        .current_dir(dir)
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .args(extra)
        .arg("--policies-dir")
        .arg(policies_dir())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("grantd serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the server logs its address");
        log.push(line.clone());
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["fields"]["message"] == "grantd listening" {
            break v["fields"]["addr"].as_str().unwrap().to_string();
        }
    };
    (child, addr, log, rx)
}
