//! The per-tenant cache of compiled policy sets: each tenant's configuration loaded from the
//! store, compiled by `crate::cedar::engine` off the async workers, and held behind an `Arc`
//! in a moka cache keyed by tenant.
//!
//! Freshness: every committed configuration write calls [`PolicySets::invalidate`], which
//! bumps the tenant's generation and drops the cached set under one lock; a load installs
//! its result only if the generation did not move while it read the database, so a load
//! that raced a newer write can never be installed over it. Writes made by another process
//! (another instance, the CLI) are heard through the store's commit listener where the
//! backend notifies (PostgreSQL), and noticed by the change poller (see `lib.rs`), which
//! compares revisions, everywhere.
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
    generations: Mutex<HashMap<TenantId, u64>>,
    loading: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
    /// Tenants whose configuration does not compile, with the generation and revision that
    /// failed: their decisions answer the failure at once (no load per request) until a
    /// write moves the generation.
    failures: Mutex<HashMap<TenantId, Failure>>,
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
            generations: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn generation(&self, tenant: TenantId) -> u64 {
        let g = self.generations.lock().expect("generations lock");
        g.get(&tenant).copied().unwrap_or(0)
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
            let generation = self.generation(tenant);
            if let Some(f) = self.failures.lock().expect("failures lock").get(&tenant) {
                if f.generation == generation {
                    return Err(Error::PolicySetInvalid(f.message.clone()));
                }
            }
            let config = self.store.load_config(tenant).await?;
            let revision = config.revision;
            let compiled = tokio::task::spawn_blocking(move || compile(config))
                .await
                .map_err(Error::internal)?;
            let generations = self.generations.lock().expect("generations lock");
            let current = generations.get(&tenant).copied().unwrap_or(0) == generation;
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
    /// set reloaded once the database has reached `min`. A database that has not reached
    /// it within [`STALE_WAIT`] answers `503 stale`.
    pub async fn at_least(&self, tenant: TenantId, min: Option<i64>) -> Result<Arc<CompiledSet>> {
        let set = self.get(tenant).await?;
        let Some(min) = min else {
            return Ok(set);
        };
        if set.version >= min {
            return Ok(set);
        }
        let deadline = tokio::time::Instant::now() + STALE_WAIT;
        loop {
            let revision = self.store.revision(tenant).await?;
            if revision >= min {
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

    /// Called after a committed write of policies, schema or entities: the next decision
    /// loads the new set.
    pub fn invalidate(&self, tenant: TenantId) {
        let mut g = self.generations.lock().expect("generations lock");
        *g.entry(tenant).or_insert(0) += 1;
        self.cache.invalidate(&tenant);
    }

    /// Called when the tenant's configuration is known to have reached `revision` (a
    /// commit heard from another process, or seen by the change poller): drops what is
    /// cached or being loaded unless the cached set already is at least that recent.
    pub fn heard(&self, tenant: TenantId, revision: i64) {
        if self.cached_version(tenant).is_some_and(|v| v >= revision) {
            return;
        }
        self.invalidate(tenant);
    }

    /// The version of the cached set, if any (for the change poller).
    pub fn cached_version(&self, tenant: TenantId) -> Option<i64> {
        self.cache.get(&tenant).map(|s| s.version).or_else(|| {
            let failures = self.failures.lock().expect("failures lock");
            failures.get(&tenant).map(|f| f.revision)
        })
    }

    pub fn cached_tenants(&self) -> Vec<TenantId> {
        self.cache.iter().map(|(k, _)| *k).collect()
    }
}
