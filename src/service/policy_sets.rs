//! The per-tenant cache of compiled policy sets: each tenant's configuration loaded from the
//! store, compiled by `crate::cedar::engine` off the async workers, and held behind an `Arc`
//! in a moka cache keyed by tenant.
//!
//! Freshness: every committed configuration write is reported with the revision it
//! committed ([`PolicySets::heard`]), which raises the tenant's floor and drops a cached
//! set older than it, under one lock; a load installs its result only if what it read is
//! at least the floor and the tenant's generation (moved by [`PolicySets::invalidate`],
//! for changes whose revision is unknown, and by [`PolicySets::invalidate_all`]) did not
//! move while it read, so a load that raced a newer write can never be installed over it.
//! Writes made by another process (another instance, the CLI) are heard through the
//! store's commit listener where the backend notifies (PostgreSQL), and noticed by the
//! change poller (see `lib.rs`), which compares revisions, everywhere.
//! A decision holds the `Arc` it started with, so it sees the old set or the new one, never
//! a mix.

use crate::cedar::engine::{compile, CompiledSet};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::DynStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a decision that asks for a newer policy set than the database holds waits for
/// it before answering `503 stale`, and how often it looks again meanwhile.
pub const STALE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
const STALE_RECHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// The per-tenant cache of compiled sets.
pub struct PolicySets {
    store: DynStore,
    cache: moka::sync::Cache<TenantId, Arc<CompiledSet>>,
    freshness: Mutex<Freshness>,
    loading: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
    /// Tenants whose configuration does not compile, with the generation and revision that
    /// failed: their decisions answer the failure at once (no load per request) until a
    /// write moves the generation.
    failures: Mutex<HashMap<TenantId, Failure>>,
}

/// What a load must not be older than.
#[derive(Default)]
struct Freshness {
    /// Per tenant, moved by [`PolicySets::invalidate`].
    generations: HashMap<TenantId, u64>,
    /// Moved by [`PolicySets::invalidate_all`]: every tenant's generation moves with it.
    epoch: u64,
    /// Per tenant: the least revision a loaded set may be installed (or a failure
    /// remembered) at, raised by [`PolicySets::heard`].
    floors: HashMap<TenantId, i64>,
}

impl Freshness {
    /// Only ever grows, as both terms do.
    fn generation(&self, tenant: TenantId) -> u64 {
        self.generations.get(&tenant).copied().unwrap_or(0) + self.epoch
    }

    fn floor(&self, tenant: TenantId) -> i64 {
        self.floors.get(&tenant).copied().unwrap_or(i64::MIN)
    }

    /// Whether what was loaded at `generation` from `revision` is still current.
    fn current(&self, tenant: TenantId, generation: u64, revision: i64) -> bool {
        self.generation(tenant) == generation && revision >= self.floor(tenant)
    }
}

struct Failure {
    generation: u64,
    revision: i64,
    message: String,
}

impl PolicySets {
    pub fn new(store: DynStore, max_tenants: u64) -> Self {
        PolicySets {
            store,
            cache: moka::sync::Cache::new(max_tenants),
            freshness: Mutex::new(Freshness::default()),
            loading: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn freshness(&self) -> std::sync::MutexGuard<'_, Freshness> {
        self.freshness.lock().expect("freshness lock")
    }

    /// The tenant's current compiled set, loading it when it is not cached.
    pub async fn get(&self, tenant: TenantId) -> Result<Arc<CompiledSet>> {
        if let Some(set) = self.cache.get(&tenant) {
            return Ok(set);
        }
        // One load per tenant at a time; the others wait for it and then find it cached.
        let gate = {
            let mut l = self.loading.lock().expect("loading lock");
            l.entry(tenant).or_default().clone()
        };
        let _turn = gate.lock().await;
        for _ in 0..16 {
            if let Some(set) = self.cache.get(&tenant) {
                return Ok(set);
            }
            let generation = self.freshness().generation(tenant);
            let failed = {
                let failures = self.failures.lock().expect("failures lock");
                let f = failures.get(&tenant);
                f.map(|f| (f.generation, f.revision, f.message.clone()))
            };
            if let Some((at, revision, message)) = failed {
                if self.freshness().current(tenant, at, revision) {
                    return Err(Error::PolicySetInvalid(message));
                }
            }
            let config = self.store.load_config(tenant).await?;
            let revision = config.revision;
            let compiled = tokio::task::spawn_blocking(move || compile(config))
                .await
                .map_err(Error::internal)?;
            let freshness = self.freshness();
            let current = freshness.current(tenant, generation, revision);
            match compiled {
                Ok(set) if current => {
                    let set = Arc::new(set);
                    self.failures.lock().expect("failures lock").remove(&tenant);
                    self.cache.insert(tenant, set.clone());
                    return Ok(set);
                }
                Err(Error::PolicySetInvalid(message)) if current => {
                    self.failures.lock().expect("failures lock").insert(
                        tenant,
                        Failure {
                            generation,
                            revision,
                            message: message.clone(),
                        },
                    );
                    return Err(Error::PolicySetInvalid(message));
                }
                Err(e) if current => return Err(e),
                _ => {}
            }
            // A write committed while we read: what we loaded may be older than it.
        }
        Err(Error::Unavailable(anyhow::anyhow!(
            "the tenant's configuration changed during every load attempt"
        )))
    }

    /// [`get`](Self::get), but never a set older than `min` (a consistency token): when
    /// the cached set is older, the tenant's revision is read from the database and the
    /// set loaded at it once the database has reached `min`. A database that has not
    /// reached it within [`STALE_WAIT`] answers `503 stale`.
    pub async fn at_least(&self, tenant: TenantId, min: Option<i64>) -> Result<Arc<CompiledSet>> {
        let Some(min) = min else {
            return self.get(tenant).await;
        };
        if let Some(set) = self.cache.get(&tenant).filter(|s| s.version >= min) {
            return Ok(set);
        }
        let deadline = tokio::time::Instant::now() + STALE_WAIT;
        loop {
            let revision = self.store.revision(tenant).await?;
            if revision >= min {
                // the floor makes the load (or a remembered failure) at least this recent
                self.heard(tenant, revision);
                let set = self.get(tenant).await?;
                if set.version >= min {
                    return Ok(set);
                }
            }
            if tokio::time::Instant::now() + STALE_RECHECK > deadline {
                return Err(Error::Stale(format!(
                    "the tenant's policy set is at version {revision}, older than the \
                     min_policy_set_version {min} this request asks for; retry, or send a \
                     version this tenant's writes answered with"
                )));
            }
            tokio::time::sleep(STALE_RECHECK).await;
        }
    }

    /// Drops the tenant's cached set and any load in progress (a change whose revision is
    /// not known): the next decision loads again.
    pub fn invalidate(&self, tenant: TenantId) {
        let mut f = self.freshness();
        *f.generations.entry(tenant).or_insert(0) += 1;
        self.cache.invalidate(&tenant);
    }

    /// Drops every tenant's cached set and loads in progress: commits may have gone
    /// unheard (the notification channel reconnected).
    pub fn invalidate_all(&self) {
        let mut f = self.freshness();
        f.epoch += 1;
        self.cache.invalidate_all();
    }

    /// Called when the tenant's configuration is known to have reached `revision` (a
    /// committed write of this process or, heard or polled, of another): from now on no
    /// set older than it is served, cached, or installed by a load in progress, while a
    /// load that already read that revision or a later one stays good.
    pub fn heard(&self, tenant: TenantId, revision: i64) {
        self.heard_all([(tenant, revision)]);
    }

    /// [`heard`](Self::heard) of many tenants at once (the change poller's pass over
    /// every tenant), under one lock.
    pub fn heard_all(&self, revisions: impl IntoIterator<Item = (TenantId, i64)>) {
        let mut f = self.freshness();
        for (tenant, revision) in revisions {
            let floor = f.floors.entry(tenant).or_insert(i64::MIN);
            *floor = (*floor).max(revision);
            if self
                .cache
                .get(&tenant)
                .is_some_and(|s| s.version < revision)
            {
                self.cache.invalidate(&tenant);
            }
        }
    }
}
