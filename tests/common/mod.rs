//! Test harness: a real grantd on 127.0.0.1:0 over a fresh database (a SQLite file, or a
//! PostgreSQL database of its own), a settable clock, and helpers to create tenants and keys
//! and to call the API.
//!
//! Tests written inside [`backends!`] run twice, as `<name>::sqlite` and `<name>::postgres`;
//! the PostgreSQL variant needs `GRANTD_TEST_POSTGRES_URL` (a server where the tests may
//! create and drop databases) and is skipped, saying so, only when that is unset.
#![allow(dead_code)]

use chrono::Utc;
use grantd::clock::ManualClock;
use grantd::config::Config;
use grantd::http::AppState;
use grantd::App;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Connection;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The database a test's servers run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    /// The backend of the running test, set by [`backends!`].
    static BACKEND: Backend;
}

impl Backend {
    /// The backend of the running test: its [`backends!`] variant's, SQLite outside one.
    pub fn current() -> Backend {
        BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
    }

    /// Runs `f` with `self` as the current backend.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        BACKEND.scope(self, f).await
    }

    /// Runs `f` with `self` as the current backend, for a synchronous test that drives its
    /// own runtime (what it `block_on`s on this thread sees the backend; tasks it spawns
    /// do not).
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        BACKEND.sync_scope(self, f)
    }
}

/// The environment variable naming the PostgreSQL server of the PostgreSQL variants.
pub const POSTGRES_URL_VAR: &str = "GRANTD_TEST_POSTGRES_URL";

/// `GRANTD_TEST_POSTGRES_URL`, `None` only when it is unset: a URL that is set but empty or
/// unreachable fails the PostgreSQL variants instead of skipping them.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) => Some(url),
        Err(std::env::VarError::NotPresent) => None,
        Err(e) => panic!("{POSTGRES_URL_VAR}: {e}"),
    }
}

/// Whether the PostgreSQL variants run (see [`postgres_url`]).
pub fn postgres_enabled() -> bool {
    postgres_url().is_some()
}

/// What a skipped PostgreSQL variant prints.
pub fn skip_postgres(test: &str) {
    eprintln!("skipped {test}: {POSTGRES_URL_VAR} is unset");
}

/// Writes each test function given to it twice, in a module named after the test: `sqlite`
/// and `postgres`, each with the test's attributes, running its body with that backend as
/// the current one (so every `TestServer` it starts, and [`fresh_database`], use it). The
/// PostgreSQL variant is skipped, with a line on stderr, when `GRANTD_TEST_POSTGRES_URL` is
/// unset. The module sees the file's items and imports (`use super::*`).
///
/// ```ignore
/// backends! {
///     #[tokio::test]
///     async fn name() { ... }
///
///     /// docs and any attributes are kept
///     #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
///     async fn other() { ... }
///
///     #[test]
///     fn drives_its_own_runtime() { ... }
/// }
/// ```
#[macro_export]
macro_rules! backends {
    () => {};
    (
        $(#[$attr:meta])*
        async fn $name:ident() { $($body:tt)* }
        $($rest:tt)*
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn __body() { $($body)* }

            $(#[$attr])*
            async fn sqlite() {
                $crate::common::Backend::Sqlite.scope(__body()).await
            }

            $(#[$attr])*
            async fn postgres() {
                if $crate::common::postgres_enabled() {
                    $crate::common::Backend::Postgres.scope(__body()).await
                } else {
                    $crate::common::skip_postgres(module_path!());
                }
            }
        }
        $crate::backends! { $($rest)* }
    };
    (
        $(#[$attr:meta])*
        fn $name:ident() { $($body:tt)* }
        $($rest:tt)*
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn __body() { $($body)* }

            $(#[$attr])*
            fn sqlite() {
                $crate::common::Backend::Sqlite.sync_scope(__body)
            }

            $(#[$attr])*
            fn postgres() {
                if $crate::common::postgres_enabled() {
                    $crate::common::Backend::Postgres.sync_scope(__body)
                } else {
                    $crate::common::skip_postgres(module_path!());
                }
            }
        }
        $crate::backends! { $($rest)* }
    };
}

/// A database of its own on the server at `GRANTD_TEST_POSTGRES_URL`, created empty and
/// dropped (with every connection still open on it) when this is dropped.
pub struct PgDatabase {
    /// `GRANTD_TEST_POSTGRES_URL` with this database's name.
    pub url: String,
    admin_url: String,
    name: String,
}

const PG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A connection to the server at `url` (no panic), within [`PG_TIMEOUT`].
async fn pg_connect(url: &str) -> Result<sqlx::PgConnection, String> {
    match tokio::time::timeout(PG_TIMEOUT, sqlx::PgConnection::connect(url)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {PG_TIMEOUT:?}")),
    }
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let admin_url = postgres_url().unwrap_or_else(|| panic!("{POSTGRES_URL_VAR} is unset"));
        let shown = grantd::store::redact_url(&admin_url);
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={shown:?} is not a URL: {e}"));
        let name = format!("grantd_t_{}", uuid::Uuid::new_v4().simple());
        url.set_path(&format!("/{name}"));
        let mut admin = pg_connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("{POSTGRES_URL_VAR} is set, but PostgreSQL at {shown} is unreachable: {e}")
        });
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {shown}: {e}"));
        let _ = admin.close().await;
        PgDatabase {
            url: url.to_string(),
            admin_url,
            name,
        }
    }
}

impl Drop for PgDatabase {
    /// Best effort, on a thread and runtime of its own (this may run inside a test's
    /// runtime, or outside any), waited for so databases do not pile up.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut admin = pg_connect(&admin_url).await?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                match tokio::time::timeout(PG_TIMEOUT, sqlx::raw_sql(&sql).execute(&mut admin))
                    .await
                {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err(format!("not dropped within {PG_TIMEOUT:?}")),
                }
                let _ = admin.close().await;
                Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("test database {} was not dropped: {e}", self.name),
            Err(_) => eprintln!("test database {} was not dropped: panicked", self.name),
        }
    }
}

/// An empty database of the running test's backend (see [`Backend::current`]): a SQLite
/// file in a fresh directory, or a PostgreSQL database of its own, dropped with this.
pub struct Database {
    pub backend: Backend,
    pub url: String,
    /// SQLite: the file (it exists once a store has opened it). PostgreSQL: unused.
    pub path: std::path::PathBuf,
    pub dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

/// A fresh, empty database besides any server's, for tests that open one themselves.
pub async fn fresh_database() -> Database {
    fresh_database_in(&std::env::temp_dir()).await
}

async fn fresh_database_in(parent: &std::path::Path) -> Database {
    let backend = Backend::current();
    let dir = tempfile::tempdir_in(parent).expect("tempdir");
    let path = dir.path().join("grantd.db");
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    let url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", path.display()),
    };
    Database {
        backend,
        url,
        path,
        dir,
        pg,
    }
}

pub fn policies_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// SQLite: the database file. PostgreSQL: unused (a path in the server's directory).
    pub db_path: std::path::PathBuf,
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<std::io::Result<()>>>,
    /// The server's directory (SQLite: its database) and, on PostgreSQL, its database,
    /// dropped last, after the server was told to stop. `None` for a further instance on
    /// another server's database (see [`TestServer::instance`]).
    _db: Option<Database>,
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

    /// A server on a fresh database of the running test's backend (see
    /// [`Backend::current`]), with a fresh directory under `parent` (a file system a test
    /// controls, for example) that holds the SQLite database.
    pub async fn start_in(parent: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = fresh_database_in(parent).await;
        let (backend, db_path, db_url) = (db.backend, db.path.clone(), db.url.clone());
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let mut server = Self::open(backend, db_path, db_url, clock, tweak).await;
        server._db = Some(db);
        server
    }

    /// Another grantd instance on this server's database (as several processes behind a
    /// load balancer share one), on the same manual clock, with its own caches.
    pub async fn instance(&self, tweak: impl FnOnce(&mut Config)) -> Self {
        let (path, url) = (self.db_path.clone(), self.db_url.clone());
        Self::open(self.backend, path, url, self.clock.clone(), tweak).await
    }

    async fn open(
        backend: Backend,
        db_path: std::path::PathBuf,
        db_url: String,
        clock: Arc<ManualClock>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::new(db_url.clone(), policies_dir());
        tweak(&mut config);
        let app = App::open(config, clock.clone())
            .await
            .unwrap_or_else(|e| panic!("the app opens on {backend:?}: {e}"));
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
            backend,
            db_path,
            db_url,
            shutdown: Some(tx),
            task: Some(task),
            _db: None,
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

    /// A second connection to the database, for tampering and inspection, on either
    /// backend. Acknowledged decision events are first moved from the store's inbox into
    /// `audit_events`, where inspection looks (the store's own reads do the same).
    ///
    /// SQL sent on it must run on both backends (or `match` on `self.backend`): the
    /// PostgreSQL schema has the same tables and columns, but ids and tenant ids are `uuid`
    /// (compare `CAST(id AS TEXT) = $1`), times `timestamptz`, and `grants.scopes` and
    /// `grants.notices` `jsonb`; and the `Any` driver reads only integers, floats, booleans,
    /// text and bytes, so a query selects other columns cast to TEXT or BIGINT.
    pub async fn db(&self) -> sqlx::AnyPool {
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
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.db_url)
            .await
            .expect("test db connection")
    }

    /// `(kind, body)` of a tenant's audit events in seq order.
    pub async fn events(&self, tenant: &str) -> Vec<(String, Value)> {
        let db = self.db().await;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, body FROM audit_events WHERE CAST(tenant_id AS TEXT) = $1 ORDER BY seq",
        )
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

/// An authorize request that [`seed_permit_all`] permits: user `u0` asks for `github`.
pub fn permitted_request() -> Value {
    serde_json::json!({"principal": {"type": "User", "id": "u0"},
        "action": {"type": "Action", "id": "request"},
        "resource": {"type": "App", "id": "github"},
        "context": {"scopes": [], "reason": "", "extension_count": 0}})
}

/// App `github`, users `u0`..`u{users}` and a policy that permits everyone to request and
/// extend anything, in tenant `t` of `s`.
pub async fn seed_permit_all(s: &TestServer, t: &Tenant, users: usize) {
    let mut entities = vec![
        serde_json::json!({"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []}),
    ];
    entities.extend((0..users).map(
        |i| serde_json::json!({"uid": {"type": "User", "id": format!("u{i}")}, "attrs": {}, "parents": []}),
    ));
    let r = send(
        s,
        &t.admin_key,
        t,
        Method::PUT,
        "/v1/entities",
        Some(Value::Array(entities)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        s,
        &t.admin_key,
        t,
        Method::POST,
        "/v1/policies",
        Some(serde_json::json!({
        "key": "all", "name": "all", "max_duration_seconds": 86400,
        "rules": [{"effect": "permit", "principal_scope_type": "any",
            "action_scope_type": "in", "action_ids": ["request", "extend"],
            "resource_scope_type": "any"}]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
}
