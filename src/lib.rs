//! grantd: a multi-tenant Cedar policy decision point with a grant lifecycle.
//!
//! `lib.rs` wires configuration → store → services → router; the binary (`main.rs`) and the
//! black-box tests both start the server through [`App`], so tests run the real thing.

pub mod audit;
pub mod cedar;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod service;
pub mod store;
pub mod throttle;

use clock::SharedClock;
use config::Config;
use error::Result;
use http::AppState;
use service::Services;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A configured grantd: store opened and migrated, audit writer running.
pub struct App {
    pub state: AppState,
    writer: JoinHandle<()>,
    poller: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    reevaluator: JoinHandle<()>,
    deliverer: JoinHandle<()>,
    stop_poller: tokio::sync::watch::Sender<bool>,
}

/// Where `serve` writes the bootstrap tenant's id and admin key.
pub const BOOTSTRAP_FILE: &str = "grantd-bootstrap.json";

impl App {
    pub async fn open(config: Config, clock: SharedClock) -> Result<App> {
        let store = store::open_serving(&config.database_url).await?;
        let cursors = domain::page::CursorCodec::new(&store.cursor_secret().await?);
        let clock_for_sweeper = clock.clone();
        let (audit, writer) = audit::AuditWriter::spawn(
            store.clone(),
            config.audit_queue_capacity,
            config.audit_batch_max,
        );
        let policy_sets = Arc::new(service::policy_sets::PolicySets::new(
            store.clone(),
            100_000,
        ));
        let keys = Arc::new(service::keys::KeyCache::new(100_000));
        // Wakes the change poller at once when commits may have gone unheard.
        let poll_now = Arc::new(tokio::sync::Notify::new());
        // Wakes the re-evaluation worker when a configuration write commits.
        let reevaluate_now = Arc::new(tokio::sync::Notify::new());
        {
            let (sets, keys) = (Arc::downgrade(&policy_sets), Arc::downgrade(&keys));
            let poll_now = poll_now.clone();
            let reevaluate_now = reevaluate_now.clone();
            store.set_commit_listener(Arc::new(move |c| match c {
                store::Commit::Config { tenant, revision } => {
                    if let Some(e) = sets.upgrade() {
                        e.heard(tenant, revision)
                    }
                    reevaluate_now.notify_one()
                }
                store::Commit::KeyRevoked(k) => {
                    if let Some(k2) = keys.upgrade() {
                        k2.invalidate(k)
                    }
                }
                // Commits may have gone unheard: drop everything cached, and have the
                // poller compare revisions at once.
                store::Commit::Missed => {
                    if let Some(e) = sets.upgrade() {
                        e.invalidate_all()
                    }
                    if let Some(k2) = keys.upgrade() {
                        k2.clear()
                    }
                    poll_now.notify_one()
                }
            }));
        }
        let (stop_poller, stop_rx) = tokio::sync::watch::channel(false);
        let poller = tokio::spawn(poll_changes(
            store.clone(),
            Arc::downgrade(&policy_sets),
            Arc::downgrade(&keys),
            config.change_poll_interval,
            poll_now,
            stop_rx,
        ));
        let sweeper = tokio::spawn(sweep_expired(
            store.clone(),
            clock_for_sweeper,
            config.sweep_interval,
            config.audit_retention_days,
            stop_poller.subscribe(),
        ));
        let services = Services {
            quotas: std::sync::Arc::new(service::quotas::Quotas::new(store.clone(), config.quotas)),
            store,
            clock,
            audit,
            cursors,
            policy_sets,
            keys,
        };
        let reevaluator = tokio::spawn(service::reevaluate::run(
            services.clone(),
            config.change_poll_interval,
            config.reevaluation_batch,
            reevaluate_now,
            stop_poller.subscribe(),
        ));
        let deliverer = tokio::spawn(service::webhooks::run(
            services.clone(),
            config.webhooks,
            std::time::Duration::from_millis(200),
            stop_poller.subscribe(),
        ));
        Ok(App {
            poller,
            sweeper,
            reevaluator,
            deliverer,
            stop_poller,
            state: AppState::new(services, Arc::new(config)),
            writer,
        })
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    /// On a database without any tenant, creates tenant `default` from the policies
    /// directory and writes its id and admin key to `dir/grantd-bootstrap.json` (mode 0600).
    /// Returns the file's path when it bootstrapped.
    pub async fn bootstrap_if_empty(&self, dir: &Path) -> Result<Option<PathBuf>> {
        let s = &self.state.services;
        if s.store.count_tenants().await? > 0 {
            return Ok(None);
        }
        let schema = service::tenants::load_default_schema(&self.state.config.policies_dir)?;
        // another process starting on the same new database may have been first
        let Some((tenant, key)) =
            service::tenants::create_first(&s.store, "default", schema, s.clock.now()).await?
        else {
            return Ok(None);
        };
        let path = dir.join(BOOTSTRAP_FILE);
        let body = serde_json::json!({"tenant_id": tenant.to_string(), "api_key": key});
        write_private(&path, &format!("{body}\n")).map_err(error::Error::internal)?;
        // The key is safe in the file before anything else can fail.
        self.load_examples(tenant).await.map_err(|e| {
            error::Error::invalid(format!(
                "tenant \"default\" was created ({}), but its example policies could not be loaded: {e}",
                path.display()
            ))
        })?;
        Ok(Some(path))
    }

    /// Loads the policies directory's example policies and `entities/*.json` into a tenant.
    async fn load_examples(&self, tenant: domain::ids::TenantId) -> Result<()> {
        let s = &self.state.services;
        let dir = &self.state.config.policies_dir;
        let actor = domain::audit::Actor::cli();
        let examples = service::import::read_dir(dir)?;
        service::import::import(&s.store, tenant, actor.clone(), &examples, s.clock.now()).await?;
        let entities_dir = dir.join("entities");
        if let Ok(read) = std::fs::read_dir(&entities_dir) {
            let mut files: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for f in files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "json"))
            {
                let text = std::fs::read_to_string(f).map_err(error::Error::internal)?;
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| error::Error::invalid(format!("{}: {e}", f.display())))?;
                service::catalog::put_entities(
                    &s.store,
                    tenant,
                    actor.clone(),
                    value,
                    s.clock.now(),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Serves until `shutdown` resolves; then answers `/readyz` with 503 while it goes on
    /// serving for `config.shutdown_drain`; then stops accepting and drains in-flight
    /// requests and the audit queue within `config.shutdown_grace` (see `http::server`):
    /// connections get
    /// all but a fifth of it (at most a second is kept back), the audit queue and the store
    /// the rest. Whatever is not done by then is left: nothing unacknowledged is lost by
    /// that, as acknowledged decision events are in the journal, replayed at the next start.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        let limits = self.state.config.server;
        let grace = self.state.config.shutdown_grace;
        let (state, drain) = (self.state.clone(), self.state.config.shutdown_drain);
        let shutdown = async move {
            shutdown.await;
            state.readiness.start_draining();
            if !drain.is_zero() {
                tracing::info!(
                    drain_ms = drain.as_millis() as u64,
                    "shutting down: not ready, still serving for the drain period"
                );
                tokio::time::sleep(drain).await;
            }
        };
        let kept_back = (grace / 5).min(std::time::Duration::from_secs(1));
        let signal =
            http::server::serve(listener, router, limits, shutdown, grace - kept_back).await;
        let deadline = signal + grace;
        let App {
            state,
            writer,
            poller,
            sweeper,
            reevaluator,
            deliverer,
            stop_poller,
        } = self;
        let finish = async move {
            let _ = stop_poller.send(true);
            let _ = poller.await;
            let _ = sweeper.await;
            // it holds a queue handle of the audit writer, awaited below
            let _ = reevaluator.await;
            // (attempts in flight finish on their own tasks or are sent again after their
            // lease: delivery is at least once)
            let _ = deliverer.await;
            let store = state.services.store.clone();
            // The writer stops once every queue handle is gone, after committing what is
            // queued.
            drop(state);
            let _ = writer.await;
            store.close().await;
        };
        if tokio::time::timeout_at(deadline.into(), finish)
            .await
            .is_err()
        {
            tracing::warn!("shutdown deadline reached before the audit queue and the store were closed; the decision journal is replayed at the next start");
        }
        Ok(())
    }
}

/// Background passes that fail (the database is unreachable, the disk is full) log at most
/// one line per this window, with the count of failures left out.
const BACKGROUND_LOG_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// Notices configuration writes and key revocations made by other processes (the CLI
/// shares the database file; instances share a PostgreSQL database) and drops what the
/// in-memory caches hold of them. Writes made through this process invalidate at commit,
/// and on PostgreSQL other processes' writes are heard at their commit (the store's
/// notifications); this pass is what remains when those are down, run every `every` and
/// at once when `now` is notified (the notifications may have missed something).
async fn poll_changes(
    store: store::DynStore,
    policy_sets: std::sync::Weak<service::policy_sets::PolicySets>,
    keys: std::sync::Weak<service::keys::KeyCache>,
    every: std::time::Duration,
    now: Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut revoked_seen: Option<i64> = None;
    let failures = throttle::LogThrottle::new(BACKGROUND_LOG_WINDOW);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = now.notified() => {}
            _ = stop.changed() => return,
        }
        let (Some(sets), Some(keys)) = (policy_sets.upgrade(), keys.upgrade()) else {
            return;
        };
        match store.change_marks().await {
            Ok((revisions, revoked)) => {
                // also for tenants being loaded now: a load older than this is not installed
                sets.heard_all(revisions);
                if revoked_seen.is_some_and(|seen| seen != revoked) {
                    keys.clear();
                }
                revoked_seen = Some(revoked);
            }
            Err(e) => {
                if let Some(n) = failures.admit() {
                    tracing::warn!(error = ?e, earlier_not_logged = n, "change poll failed")
                }
            }
        }
    }
}

/// Persists EXPIRED, with its `grant.expire` event, for grants whose time has come. Every
/// read already treats them as expired; this makes the store say so too.
async fn sweep_expired(
    store: store::DynStore,
    clock: SharedClock,
    every: std::time::Duration,
    retention_days: Option<u32>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Retention runs at start and then hourly: it is cheap but need not be frequent.
    let mut last_prune: Option<std::time::Instant> = None;
    let failures = throttle::LogThrottle::new(BACKGROUND_LOG_WINDOW);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match service::grants::sweep(&store, clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "sweeper persisted expired grants"),
            Err(e) => {
                if let Some(n) = failures.admit() {
                    tracing::warn!(error = ?e, earlier_not_logged = n, "expiry sweep failed")
                }
            }
        }
        if let Some(days) = retention_days {
            if last_prune.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(3600)) {
                last_prune = Some(std::time::Instant::now());
                match audit::prune(&store, clock.now(), days).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, days, "audit retention pruned old events"),
                    Err(e) => tracing::warn!(error = ?e, "audit retention failed"),
                }
            }
        }
    }
}

/// Creates (or replaces) a file readable by its owner only.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}
