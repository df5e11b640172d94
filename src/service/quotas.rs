//! Request quotas: token buckets per tenant and per API key (governor's GCRA), so one
//! tenant's burst, or one runaway client, cannot take every other caller's capacity.
//!
//! Each tenant and each key has two buckets: one for decisions (`authorize`, where a batch
//! counts every request in it, grant writes, access checks) and one for every other call,
//! so reads never spend the decision budget. Limits come from the flags (`--tenant-rps`,
//! `--tenant-burst`, `--key-rps`, `--key-burst`; none set: unlimited) and a tenant's own
//! limits: the operator's (`grantd tenant quota`), which replaces the tenant default, and
//! the tenant admin's (`PUT /v1/quota`), which can only lower what that allows (so a
//! tenant can hold itself below its share, never take more). Both are read again at most
//! a second after they change. A refused call (429 `rate_limited` with `Retry-After`
//! and `RateLimit-*`) is counted on `/metrics`, and the first refusal of a tenant in each
//! minute is logged; it is not audited and decides nothing. Quotas hold per instance:
//! behind a balancer over N instances a tenant gets up to N times its limit.

use crate::domain::ids::{KeyId, TenantId};
use crate::error::{Error, Result};
use crate::service::Caller;
use crate::store::DynStore;
use crate::throttle::LogThrottle;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::Serialize;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::domain::quota::{Limit, QuotaSetter, TenantQuota};

/// The governor quota of a limit.
fn quota(limit: Limit) -> Quota {
    let rps = NonZeroU32::new(limit.rps).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rps).allow_burst(burst)
}

/// The limits every tenant and key has unless a tenant has its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuotaDefaults {
    pub tenant: Option<Limit>,
    pub key: Option<Limit>,
}

/// Which budget a call spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Decisions,
    Other,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Decisions => "decisions",
            Class::Other => "other",
        }
    }
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// A bucket and the limit it was made for (a changed limit gets a new bucket).
struct Entry {
    limit: Limit,
    bucket: Bucket,
}

impl Entry {
    fn new(limit: Limit) -> Arc<Entry> {
        Arc::new(Entry {
            limit,
            bucket: RateLimiter::direct(quota(limit)).with_middleware(),
        })
    }

    /// A bucket for `limit` holding what `old` holds now (at most its burst).
    fn carrying(old: &Entry, limit: Limit) -> Arc<Entry> {
        // Reading what a bucket holds spends a token of it; `old` is being replaced.
        let held = match old.bucket.check() {
            Ok(state) => state.remaining_burst_capacity() + 1,
            Err(_) => 0,
        };
        let next = Entry::new(limit);
        if let Some(n) = NonZeroU32::new(limit.burst - held.min(limit.burst)) {
            // A fresh bucket holds its burst, so this takes at most what it holds.
            let _ = next.bucket.check_n(n);
        }
        next
    }
}

/// How long a tenant's own limit is used before it is read again.
const LIMIT_TTL: Duration = Duration::from_secs(1);
/// Buckets unused this long are dropped (a full bucket is what a new one is).
const IDLE: Duration = Duration::from_secs(600);

pub struct Quotas {
    defaults: QuotaDefaults,
    store: DynStore,
    /// Each tenant's own limits as last read.
    own: moka::sync::Cache<TenantId, TenantQuota>,
    tenants: moka::sync::Cache<(TenantId, Class), Arc<Entry>>,
    keys: moka::sync::Cache<(KeyId, Class), Arc<Entry>>,
    /// Each tenant's refusal log: one line a minute, counting those left out.
    logged: Mutex<HashMap<TenantId, Arc<LogThrottle>>>,
}

impl Quotas {
    pub fn new(store: DynStore, defaults: QuotaDefaults) -> Self {
        Quotas {
            defaults,
            store,
            own: moka::sync::Cache::builder()
                .time_to_live(LIMIT_TTL)
                .max_capacity(100_000)
                .build(),
            tenants: moka::sync::Cache::builder()
                .time_to_idle(IDLE)
                .max_capacity(200_000)
                .build(),
            keys: moka::sync::Cache::builder()
                .time_to_idle(IDLE)
                .max_capacity(200_000)
                .build(),
            logged: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's own limits (read at most [`LIMIT_TTL`] ago).
    pub async fn own_limit(&self, tenant: TenantId) -> Result<TenantQuota> {
        if let Some(v) = self.own.get(&tenant) {
            return Ok(v);
        }
        let v = self.store.tenant_quota(tenant).await?;
        self.own.insert(tenant, v);
        Ok(v)
    }

    /// The limit a tenant's buckets have: the operator's, else the default, lowered by
    /// the tenant admin's own.
    pub async fn tenant_limit(&self, tenant: TenantId) -> Result<Option<Limit>> {
        Ok(self
            .own_limit(tenant)
            .await?
            .effective(self.defaults.tenant))
    }

    /// Forgets a tenant's own limit as read, so the next call reads it again (after this
    /// instance changed it).
    pub fn forget(&self, tenant: TenantId) {
        self.own.invalidate(&tenant);
    }

    /// Spends `n` tokens of `class` from the caller's key and tenant, or refuses with 429.
    pub async fn admit(&self, caller: &Caller, class: Class, n: u32) -> Result<()> {
        self.admit_for(caller.tenant_id, caller.key_id, class, n)
            .await
    }

    /// As [`Quotas::admit`], for a count of things one call asks (requests in a batch,
    /// cases of a policy test run).
    pub async fn admit_count(&self, caller: &Caller, class: Class, n: usize) -> Result<()> {
        self.admit(caller, class, u32::try_from(n).unwrap_or(u32::MAX))
            .await
    }

    /// As [`Quotas::admit`], for a key of `tenant`. The key's bucket is spent first: a call
    /// its key refuses costs its tenant nothing, so one runaway key cannot spend the
    /// budget of the tenant's other keys (a call the tenant refuses has spent its key's
    /// tokens, which costs only that key).
    pub async fn admit_for(
        &self,
        tenant: TenantId,
        key: KeyId,
        class: Class,
        n: u32,
    ) -> Result<()> {
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(());
        };
        if let Some(limit) = self.defaults.key {
            let entry = current(&self.keys, (key, class), limit);
            self.spend(&entry, n, tenant, class, "key")?;
        }
        if let Some(limit) = self.tenant_limit(tenant).await? {
            let entry = current(&self.tenants, (tenant, class), limit);
            self.spend(&entry, n, tenant, class, "tenant")?;
        }
        Ok(())
    }

    fn spend(
        &self,
        entry: &Entry,
        n: NonZeroU32,
        tenant: TenantId,
        class: Class,
        scope: &'static str,
    ) -> Result<()> {
        let limit = entry.limit;
        let wait = match entry.bucket.check_n(n) {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(not_until)) => Some(not_until.wait_time_from(DefaultClock::default().now())),
            // More than the bucket holds: it can never pass.
            Err(_) => None,
        };
        metrics::counter!("grantd_rate_limited_total",
            "tenant" => tenant.to_string(), "scope" => scope, "class" => class.as_str())
        .increment(1);
        self.log_refusal(tenant, scope, class);
        let message = match wait {
            Some(_) => format!(
                "the {scope}'s quota for {} calls ({} per second, bursts of {}) is spent; retry after Retry-After seconds",
                class.as_str(),
                limit.rps,
                limit.burst
            ),
            None => format!(
                "this call counts {n} against the {scope}'s quota for {} calls, more than its burst of {}: send fewer at once",
                class.as_str(),
                limit.burst
            ),
        };
        Err(Error::Throttled {
            message,
            retry_after: wait,
            limit: limit.burst,
        })
    }

    /// The first refusal of a tenant in each minute is logged, with the count of those
    /// not logged since.
    fn log_refusal(&self, tenant: TenantId, scope: &str, class: Class) {
        let throttle = self
            .logged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant)
            .or_insert_with(|| Arc::new(LogThrottle::new(Duration::from_secs(60))))
            .clone();
        if let Some(left_out) = throttle.admit() {
            tracing::warn!(tenant = %tenant, scope, class = class.as_str(),
                earlier_not_logged = left_out, "a tenant is over its quota");
        }
    }
}

/// `GET /v1/quota`: the limits the caller's calls are held to on this instance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuotaView {
    /// The limit of each of the tenant's two buckets (decisions, everything else): the
    /// operator's limit for the tenant (`tenant_own`), else the instance's default, lowered
    /// number by number by the tenant's own (`tenant_self`); `null`: unlimited.
    pub tenant: Option<Limit>,
    /// The operator's limit for this tenant (`grantd tenant quota`), `null` when it has
    /// none.
    pub tenant_own: Option<Limit>,
    /// The limit the tenant's admin set (`PUT /v1/quota`), `null` when none: it only
    /// lowers `tenant`, never raises it.
    pub tenant_self: Option<Limit>,
    /// The limit of each of every key's two buckets (the instance's default); `null`:
    /// unlimited.
    pub key: Option<Limit>,
}

pub async fn view(q: &Quotas, tenant: TenantId) -> Result<QuotaView> {
    // Read afresh: the answer is what holds from now on.
    q.forget(tenant);
    let own = q.own_limit(tenant).await?;
    Ok(QuotaView {
        tenant: own.effective(q.defaults.tenant),
        tenant_own: own.operator,
        tenant_self: own.tenant,
        key: q.defaults.key,
    })
}

/// `PUT /v1/quota`: the tenant's own limit, set by its admin.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaUpdate {
    /// The tenant's own limit for each of its two buckets, `{"rps", "burst"}` (each 1 to
    /// 1,000,000); it lowers the limit the operator or the instance's default sets, number
    /// by number, and never raises it. `null` or absent: none (clears it).
    pub tenant_self: Option<Limit>,
}

/// `PUT /v1/quota` for the caller's tenant: sets or clears the limit its admin holds it
/// to, audited as `tenant.quota`; answers what holds from now on (on this instance at
/// once, on the others within a second).
pub async fn put_self_limit(
    q: &Quotas,
    caller: &Caller,
    body: QuotaUpdate,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<QuotaView> {
    let limit = body
        .tenant_self
        .map(|l| Limit::new(l.rps, l.burst))
        .transpose()
        .map_err(|m| Error::invalid(format!("tenant_self.{m}")))?;
    let tenant = caller.tenant_id;
    if !set_own_limit(
        &q.store,
        tenant,
        QuotaSetter::Tenant,
        limit,
        caller.actor(),
        now,
    )
    .await?
    {
        return Err(Error::not_found("no such tenant"));
    }
    view(q, tenant).await
}

/// Sets (or, with `None`, clears) one of a tenant's own limits, audited as `tenant.quota`
/// in the tenant's log (`{"quota": …}` for the operator's, `{"self_quota": …}` for the
/// tenant admin's). Every instance applies it within a second. `Ok(false)`: no such tenant.
pub async fn set_own_limit(
    store: &DynStore,
    tenant: TenantId,
    setter: QuotaSetter,
    limit: Option<Limit>,
    actor: crate::domain::audit::Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    use crate::domain::audit::{EventKind, NewEvent, Subject};
    let event = NewEvent::new(
        now,
        actor,
        EventKind::TenantQuota,
        Subject::new("tenant", tenant),
    )
    .with_request(match setter {
        QuotaSetter::Operator => serde_json::json!({ "quota": limit }),
        QuotaSetter::Tenant => serde_json::json!({ "self_quota": limit }),
    });
    store.set_tenant_quota(tenant, setter, limit, event).await
}

/// The bucket of `key` for `limit`: the one in use; a new full one when there was none;
/// when the limit changed, a new one that holds no more than the old one held, so that
/// changing a limit (a tenant's admin may, back and forth) never hands out tokens.
fn current<K>(cache: &moka::sync::Cache<K, Arc<Entry>>, key: K, limit: Limit) -> Arc<Entry>
where
    K: std::hash::Hash + Eq + Send + Sync + Clone + 'static,
{
    // `get_with` makes one bucket for concurrent first calls.
    let e = cache.get_with(key.clone(), || Entry::new(limit));
    if e.limit == limit {
        return e;
    }
    let next = Entry::carrying(&e, limit);
    cache.insert(key, next.clone());
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_limit_carries_what_the_bucket_held_and_hands_out_nothing() {
        let cache = moka::sync::Cache::builder().build();
        let (five, four) = (Limit::new(1, 5).unwrap(), Limit::new(1, 4).unwrap());
        let e = current(&cache, 1u8, five);
        for _ in 0..3 {
            assert!(e.bucket.check().is_ok());
        }
        // two left: a smaller bucket holds those two, not a full four
        let e = current(&cache, 1u8, four);
        assert!(e.bucket.check().is_ok());
        assert!(e.bucket.check().is_ok());
        assert!(e.bucket.check().is_err());
        // flipping back and forth hands out nothing (a second passes before a refill)
        for l in [five, four, five, four] {
            assert!(current(&cache, 1u8, l).bucket.check().is_err());
        }
        // another key's first bucket is full
        let e = current(&cache, 2u8, four);
        for _ in 0..4 {
            assert!(e.bucket.check().is_ok());
        }
    }

    #[test]
    fn a_bucket_holds_its_burst_and_refuses_more_than_it_holds() {
        let e = Entry::new(Limit::new(1, 3).unwrap());
        for _ in 0..3 {
            assert!(e.bucket.check().is_ok());
        }
        assert!(e.bucket.check().is_err());
        let big = Entry::new(Limit::new(1, 3).unwrap());
        assert!(big.bucket.check_n(NonZeroU32::new(4).unwrap()).is_err());
    }
}
