//! Persistence behind one interface. Handlers and services hold a [`DynStore`] and never see
//! SQL or a database type; each backend (`sqlite`, `postgres`) implements [`Store`].
//! Every method that touches tenant data takes the tenant id, and every mutation appends its
//! audit event in the same transaction.

mod errors;
pub mod postgres;
pub mod sqlite;

use crate::domain::audit::{AuditEvent, NewEvent, VerifyReport};
use crate::domain::ids::{KeyId, TenantId};
use crate::domain::policy::{Policy, PolicyRef};
use crate::domain::role::Role;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub type DynStore = Arc<dyn Store>;

/// The store traits, for code that calls a store's methods: `use crate::store::prelude::*`.
pub mod prelude {
    pub use super::{AuditStore, ConfigStore, GrantStore, Store, TenantStore, WebhookStore};
}

#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: KeyId,
    pub tenant_id: TenantId,
    pub role: Role,
    pub name: Option<String>,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: TenantId,
    pub name: String,
    pub cedarschema: String,
    pub created_at: DateTime<Utc>,
    /// Create it only on a database without any tenant (the bootstrap of `serve`): of
    /// several processes starting together on a new database, one creates it.
    pub only_if_first: bool,
}

/// What tenant configuration writes validate against: the schema, and the revision that
/// must still be current when they commit.
#[derive(Debug, Clone)]
pub struct ConfigSnapshot {
    pub revision: i64,
    pub cedarschema: String,
}

/// How a guarded write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A grant write committed.
    Done,
    /// A configuration write committed, moving the tenant to this revision: the
    /// `policy_set_version` its writer is answered with (the consistency token).
    Committed(i64),
    /// The tenant's configuration changed since the snapshot: validate again and retry.
    StaleRevision,
    /// The object's `version` is not the expected one (`If-Match`).
    VersionConflict,
    NotFound,
    /// Still referenced (a policy governing active grants).
    InUse,
}

pub use crate::domain::config::{EntityRow, TenantConfig};

/// A stored policy-set version.
#[derive(Debug, Clone)]
pub struct PolicySetVersion {
    pub version: i64,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// A stored answer to an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key_id: KeyId,
    pub idem_key: String,
    pub body_hash: String,
    pub status: u16,
    pub response: String,
    pub created_at: DateTime<Utc>,
}

/// How long an `Idempotency-Key`'s answer stands: a record older than this is replaced, and
/// the key may be used again.
pub const IDEMPOTENCY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

impl IdempotencyRecord {
    /// Whether this record still answers for its key at `at`.
    pub fn stands_at(&self, at: DateTime<Utc>) -> bool {
        self.created_at > at - IDEMPOTENCY_WINDOW
    }
}

/// How inserting a grant under an idempotency key ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    Done,
    /// Another request with the same key committed first; this is its record.
    Replay(IdempotencyRecord),
    /// The configuration changed since the decision: decide again.
    Stale,
}

/// What `GET /v1/audit-events` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    pub kind: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    pub decision: Option<String>,
}

/// A whole `policy import`, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    pub cedarschema: Option<String>,
    pub create: Vec<Policy>,
    /// New state of existing policies, with the version each replaces.
    pub update: Vec<(Policy, i64)>,
    pub events: Vec<NewEvent>,
}

/// A committed write that in-memory caches must hear about: from this process, or (on a
/// backend shared by several processes) from another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Policies, schema or entities of the tenant changed, moving it to `revision`.
    Config {
        tenant: TenantId,
        revision: i64,
    },
    KeyRevoked(KeyId),
    /// Commits of other processes may have gone unheard (the backend's notification
    /// channel was down): whoever caches should compare with the store now.
    Missed,
}

/// Called synchronously after such a commit, before the write returns; for commits of
/// other processes, when the backend hears of them.
pub type CommitListener = Arc<dyn Fn(Commit) + Send + Sync>;

/// The store as a whole: its lifecycle, and what spans every aggregate. A backend implements
/// this and the four aggregate traits it requires, each in a module of its own.
#[async_trait::async_trait]
pub trait Store:
    TenantStore + ConfigStore + GrantStore + AuditStore + ReevaluationStore + WebhookStore
{
    /// Registers the listener for committed writes (once; later calls are ignored). A
    /// backend that several processes share also tells it of the other processes' commits
    /// (PostgreSQL: `LISTEN`), and of the times it may have missed some.
    fn set_commit_listener(&self, listener: CommitListener);
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Whether the database answers.
    async fn ping(&self) -> Result<()>;
    /// Whether the store takes writes now (readiness): one small synced write, and the
    /// faults earlier writes met that the write would not show (a decision log that cannot
    /// be written or moved, a disk too full for a new file). `Err(Unavailable)` names the
    /// fault.
    async fn probe_write(&self) -> Result<()>;
    /// Closes the connections; later calls fail as `unavailable`.
    async fn close(&self);
    /// The secret that signs pagination cursors (created on first use).
    async fn cursor_secret(&self) -> Result<Vec<u8>>;
    /// Every tenant's current revision and the number of revoked keys: what the change
    /// poller compares to notice writes made by other processes (the CLI).
    async fn change_marks(&self) -> Result<(Vec<(TenantId, i64)>, i64)>;
}

/// Tenants and their API keys.
#[async_trait::async_trait]
pub trait TenantStore: Send + Sync + 'static {
    async fn count_tenants(&self) -> Result<i64>;
    /// Creates a tenant with its schema, its first key and that key's `key.create` event.
    /// `Ok(false)`: not created, as `only_if_first` asked, because a tenant exists.
    async fn create_tenant(
        &self,
        tenant: &NewTenant,
        first_key: &KeyRecord,
        event: NewEvent,
    ) -> Result<bool>;
    /// Looks a key up by its public id, across tenants: this is how a request finds its
    /// tenant, so it is the one read not scoped by a tenant id.
    async fn find_key(&self, id: KeyId) -> Result<Option<KeyRecord>>;
    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, event: NewEvent) -> Result<()>;
    async fn list_keys(&self, tenant: TenantId) -> Result<Vec<KeyRecord>>;
    /// The tenant's own quota limits (none set, or no such tenant: both `None`).
    async fn tenant_quota(&self, tenant: TenantId) -> Result<crate::domain::quota::TenantQuota>;
    /// Sets or clears one of the tenant's own quota limits with its `tenant.quota` event.
    /// `Ok(false)`: no such tenant (nothing written).
    async fn set_tenant_quota(
        &self,
        tenant: TenantId,
        setter: crate::domain::quota::QuotaSetter,
        limit: Option<crate::domain::quota::Limit>,
        event: NewEvent,
    ) -> Result<bool>;
    /// Revokes a key of this tenant. `Ok(false)` when the tenant has no such key; revoking a
    /// revoked key changes nothing and appends nothing.
    async fn revoke_key(
        &self,
        tenant: TenantId,
        id: KeyId,
        at: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<bool>;
}

/// How one delivery attempt ended, as the worker records it.
#[derive(Debug, Clone)]
pub struct Attempted {
    /// The attempt this is the outcome of (its number when claimed): an outcome of an
    /// attempt that is no longer the latest is not recorded.
    pub attempt: i64,
    pub status: crate::domain::webhook::DeliveryStatus,
    /// Pending: when the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Webhooks and their outbox. Every backend writes the outbox rows of grant events where
/// it appends them (see `domain::webhook::event_types`), in the same transaction.
#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Stores a webhook with its secret and audit event; `Ok(false)` when the tenant
    /// already has `MAX_WEBHOOKS`.
    async fn create_webhook(
        &self,
        tenant: TenantId,
        webhook: &crate::domain::webhook::Webhook,
        secret: &str,
        event: NewEvent,
    ) -> Result<bool>;
    async fn list_webhooks(&self, tenant: TenantId)
        -> Result<Vec<crate::domain::webhook::Webhook>>;
    /// Deletes a webhook and its deliveries, with its audit event; `Ok(false)`: no such.
    async fn delete_webhook(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        event: NewEvent,
    ) -> Result<bool>;
    /// A webhook's deliveries in id (creation) order after `after`.
    async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook: uuid::Uuid,
        status: Option<crate::domain::webhook::DeliveryStatus>,
        after: Option<uuid::Uuid>,
        limit: i64,
    ) -> Result<Vec<crate::domain::webhook::Delivery>>;
    /// Makes a delivered or dead delivery pending again, due at `now`, with a fresh retry
    /// schedule, and appends its audit event; `Ok(None)`: no such delivery; a pending one
    /// (on its schedule, perhaps being attempted) is a `Conflict`.
    async fn retry_delivery(
        &self,
        tenant: TenantId,
        webhook: uuid::Uuid,
        id: uuid::Uuid,
        now: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<Option<crate::domain::webhook::Delivery>>;
    /// Takes up to `limit` due deliveries (each the first pending one of its grant for its
    /// webhook; at most `per_webhook` of one webhook; none of the webhooks in `busy`),
    /// counting an attempt and leasing them until `lease_until`: a worker that dies
    /// mid-attempt leaves them due again then.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_webhook: i64,
        busy: &[uuid::Uuid],
    ) -> Result<Vec<crate::domain::webhook::Outgoing>>;
    /// Records how attempts ended (each only on a delivery still pending at that attempt),
    /// in one transaction.
    async fn finish_deliveries(&self, done: &[(TenantId, uuid::Uuid, Attempted)]) -> Result<()>;
    /// Deletes up to `limit` delivered or dead deliveries created before `before`; how many.
    async fn prune_deliveries(&self, before: DateTime<Utc>, limit: i64) -> Result<u64>;
}

/// Re-evaluation of active grants after configuration writes: the tenant's `on_change`
/// setting and the re-evaluations themselves. Every configuration write creates its
/// re-evaluation (named by the revision it commits) in its own transaction, superseding
/// the tenant's open ones (see the backends' `config_write`).
#[async_trait::async_trait]
pub trait ReevaluationStore: Send + Sync + 'static {
    async fn on_change(&self, tenant: TenantId) -> Result<crate::domain::reevaluation::OnChange>;
    /// Sets the tenant's `on_change`, with its audit event, in one transaction.
    async fn set_on_change(
        &self,
        tenant: TenantId,
        on_change: crate::domain::reevaluation::OnChange,
        event: NewEvent,
    ) -> Result<()>;
    async fn reevaluation(
        &self,
        tenant: TenantId,
        version: i64,
    ) -> Result<Option<crate::domain::reevaluation::Reevaluation>>;
    /// Open (pending or running) re-evaluations of every tenant, oldest first.
    async fn open_reevaluations(&self, limit: i64) -> Result<Vec<(TenantId, i64)>>;
    /// Applies one step (see [`crate::domain::reevaluation::Step`]).
    async fn apply_reevaluation(
        &self,
        tenant: TenantId,
        version: i64,
        step: crate::domain::reevaluation::Step,
    ) -> Result<crate::domain::reevaluation::StepOutcome>;
}

/// The audit log: appends, reads, retention and verification.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends events (possibly of several tenants) in one transaction: the group commit.
    async fn append_events(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>>;
    /// Starts the writer that group-commits decision events (see `audit`); `this` is the
    /// store itself, shared. By default a task calling [`Store::append_events`] per batch;
    /// a store may run its own (SQLite runs the loop on a thread of its own, appending to
    /// its decision journal).
    fn start_decision_writer(
        &self,
        this: DynStore,
        capacity: usize,
        max_batch: usize,
    ) -> (crate::audit::AuditWriter, tokio::task::JoinHandle<()>) {
        crate::audit::AuditWriter::spawn_task(this, capacity, max_batch)
    }
    /// A tenant's events matching `filter`, in `seq` order, after `after_seq`.
    async fn list_events(
        &self,
        tenant: TenantId,
        filter: &EventFilter,
        after_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>>;
    /// The tenant's newest decision events (`authorize`, `grant.request`, `grant.extend`
    /// with a decision) at or after `since` and before `before_seq`, newest first, at most
    /// `limit`, as `(seq, body)`: what a change preview replays. A body longer than
    /// `max_len` is left out (`None`), so a page's size is bounded.
    async fn recent_decisions(
        &self,
        tenant: TenantId,
        since: DateTime<Utc>,
        before_seq: Option<i64>,
        limit: i64,
        max_len: i64,
    ) -> Result<Vec<(i64, Option<String>)>>;
    /// Deletes every tenant's events older than `before` (the oldest run of them, in `seq`
    /// order), recording the last deleted event's seq and hash as the chain's new anchor.
    /// Returns how many were deleted.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Recomputes a tenant's chain from its anchor.
    async fn verify_chain(&self, tenant: TenantId) -> Result<VerifyReport>;
}

/// Tenant configuration: schema, policies and their policy-set versions, entities.
#[async_trait::async_trait]
pub trait ConfigStore: Send + Sync + 'static {
    async fn get_schema(&self, tenant: TenantId) -> Result<String>;
    async fn config_snapshot(&self, tenant: TenantId) -> Result<ConfigSnapshot>;
    /// The tenant's current configuration revision (its `policy_set_version`).
    async fn revision(&self, tenant: TenantId) -> Result<i64>;
    async fn put_schema(
        &self,
        tenant: TenantId,
        revision: i64,
        cedarschema: &str,
        event: NewEvent,
    ) -> Result<WriteOutcome>;
    async fn insert_policy(
        &self,
        tenant: TenantId,
        revision: i64,
        policy: &Policy,
        event: NewEvent,
    ) -> Result<WriteOutcome>;
    /// Replaces a policy whose stored version is `expected_version`.
    async fn update_policy(
        &self,
        tenant: TenantId,
        revision: i64,
        policy: &Policy,
        expected_version: i64,
        event: NewEvent,
    ) -> Result<WriteOutcome>;
    /// Deletes a policy unless active grants (unexpired at `now`) are governed by it:
    /// then `Ok(WriteOutcome::InUse)`.
    async fn delete_policy(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<WriteOutcome>;
    async fn get_policy(&self, tenant: TenantId, policy: &PolicyRef) -> Result<Option<Policy>>;
    /// Policies in `order` after `after`, skipping `offset`; and the total.
    async fn list_policies(
        &self,
        tenant: TenantId,
        order: crate::domain::policy::PolicyOrder,
        after: Option<crate::domain::policy::PolicyAfter>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Policy>, i64)>;
    async fn all_policies(&self, tenant: TenantId) -> Result<Vec<Policy>>;
    async fn import(
        &self,
        tenant: TenantId,
        revision: i64,
        batch: ImportBatch,
    ) -> Result<WriteOutcome>;
    /// Inserts or replaces entities, one event each.
    async fn upsert_entities(
        &self,
        tenant: TenantId,
        revision: i64,
        rows: &[EntityRow],
        events: Vec<NewEvent>,
    ) -> Result<WriteOutcome>;
    async fn delete_entity(
        &self,
        tenant: TenantId,
        etype: &str,
        id: &str,
        event: NewEvent,
    ) -> Result<WriteOutcome>;
    /// Entities in (type, id) order, optionally of one type, after a (type, id) position.
    async fn list_entities(
        &self,
        tenant: TenantId,
        etype: Option<&str>,
        after: Option<(String, String)>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<EntityRow>, i64)>;
    async fn all_entities(&self, tenant: TenantId) -> Result<Vec<EntityRow>>;
    /// The schema, enabled policies and entities of a tenant at one revision.
    async fn load_config(&self, tenant: TenantId) -> Result<TenantConfig>;
    /// The policy-set text in force at `version` (`None` past the current revision).
    async fn policy_set_version(
        &self,
        tenant: TenantId,
        version: i64,
    ) -> Result<Option<PolicySetVersion>>;
}

/// Grants, their list queries, bulk revoke, expiry and idempotency records.
#[async_trait::async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Stores a new grant, its audit event and (optionally) the idempotency record of the
    /// request, in one transaction. `decided_at` is the configuration revision the decision
    /// was made with: if the tenant's configuration moved since (a policy deleted or
    /// disabled, a rule or entity changed), nothing is written and `Stale` asks for a new
    /// decision.
    async fn insert_grant(
        &self,
        tenant: TenantId,
        grant: &crate::domain::grant::Grant,
        event: NewEvent,
        idempotency: Option<IdempotencyRecord>,
        decided_at: i64,
    ) -> Result<InsertOutcome>;
    /// Replaces a grant whose stored version is `expected_version`, with its event; with
    /// `decided_at`, only if the configuration is still at that revision (`StaleRevision`).
    async fn update_grant(
        &self,
        tenant: TenantId,
        grant: &crate::domain::grant::Grant,
        expected_version: i64,
        event: NewEvent,
        decided_at: Option<i64>,
    ) -> Result<WriteOutcome>;
    /// A grant as stored (status not yet made effective).
    async fn get_grant(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
    ) -> Result<Option<crate::domain::grant::Grant>>;
    /// The first of a principal's grants that are active and unexpired at `now` on any of
    /// `resources`, latest `expires_at` first (then the greatest id), that `accept` takes:
    /// the grant an access check answers with. For one resource the backends walk the
    /// holder index in that order and stop soon after it; no row past it is decoded.
    async fn best_active_grant_on(
        &self,
        tenant: TenantId,
        principal: &crate::domain::decision::EntityRef,
        resources: &[crate::domain::decision::EntityRef],
        now: DateTime<Utc>,
        accept: &(dyn for<'g> Fn(&'g crate::domain::grant::Grant) -> bool + Send + Sync),
    ) -> Result<Option<crate::domain::grant::Grant>>;
    /// One page of a tenant's grants matching every condition (effective statuses judged
    /// at `now`), in `sort` order after the cursor position `after` (sort value, id), skipping
    /// `offset`; with the number of matching grants (`known_total`, or counted in the same
    /// snapshot when that is `None`).
    #[allow(clippy::too_many_arguments)]
    async fn list_grants(
        &self,
        tenant: TenantId,
        conds: &[crate::domain::grant_query::Cond],
        sort: crate::domain::grant_query::SortOrder,
        after: Option<&crate::domain::grant_query::After>,
        offset: i64,
        limit: i64,
        now: DateTime<Utc>,
        known_total: Option<i64>,
    ) -> Result<(Vec<crate::domain::grant::Grant>, i64)>;
    /// Finds (reading, without holding the write lock) up to `limit` of the tenant's grants
    /// that are active or pending approval at `now`, match every condition and have an id after `after`, in id
    /// order; then revokes them in one short write transaction, each becoming what `revoke`
    /// returns, with its audit event. A grant that changed in between is read again inside
    /// that transaction, where no other write can change it, and revoked if it still
    /// matches and is active. Returns how many were revoked, the ids of those that
    /// still matched but could not be revoked, and, when it found `limit` grants, the last
    /// id found (to continue from; `None`: nothing follows). A grant found that no longer
    /// matched under the lock (revoked, expired or changed meanwhile) is in neither count,
    /// so the page's size is told by the last id, not by the counts.
    async fn revoke_matching(
        &self,
        tenant: TenantId,
        conds: &[crate::domain::grant_query::Cond],
        after: Option<uuid::Uuid>,
        limit: i64,
        now: DateTime<Utc>,
        revoke: &(dyn for<'g> Fn(&'g crate::domain::grant::Grant) -> (crate::domain::grant::Grant, NewEvent)
              + Send
              + Sync),
    ) -> Result<(usize, Vec<uuid::Uuid>, Option<uuid::Uuid>)>;
    /// Up to `limit` of the tenant's grants that are active at `now` and match every
    /// condition, in id order after `after` (a preview's or re-evaluation's walk).
    async fn active_grants(
        &self,
        tenant: TenantId,
        conds: &[crate::domain::grant_query::Cond],
        after: Option<uuid::Uuid>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::domain::grant::Grant>>;
    /// Sets `last_used_at = now` unless it is already after `not_before`.
    async fn stamp_last_used(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<()>;
    /// Persists EXPIRED for up to `limit` active grants with `expires_at <= now`, each with
    /// its `grant.expire` event (built by `event`), in one transaction. Returns how many.
    async fn expire_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        event: for<'g> fn(&'g crate::domain::grant::Grant) -> NewEvent,
    ) -> Result<usize>;
    /// The record of an idempotency key created after `since`.
    async fn get_idempotency(
        &self,
        key_id: KeyId,
        idem_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>>;
    /// Stores a denied request's answer with the denial's audit event, in one transaction.
    /// When the key has a record already (another request with it was answered first,
    /// perhaps on another instance), neither is written and that record is returned: the
    /// caller answers with it, so the log holds no decision nobody was answered with.
    async fn put_idempotency(
        &self,
        tenant: TenantId,
        record: &IdempotencyRecord,
        event: NewEvent,
    ) -> Result<InsertOutcome>;
}

/// A tenant's two quota columns (`quota`, the operator's; `self_quota`, the tenant admin's:
/// JSON `{"rps","burst"}` text, NULL for none) as its limits, for either backend.
pub(crate) fn tenant_quota_from_columns(
    operator: Option<String>,
    own: Option<String>,
) -> Result<crate::domain::quota::TenantQuota> {
    let parse = |t: Option<String>, column: &str| {
        t.map(|t| {
            serde_json::from_str::<crate::domain::quota::Limit>(&t).map_err(|_| {
                crate::error::Error::internal(anyhow::anyhow!("corrupt row: tenants.{column}"))
            })
        })
        .transpose()
    };
    Ok(crate::domain::quota::TenantQuota {
        operator: parse(operator, "quota")?,
        tenant: parse(own, "self_quota")?,
    })
}

// What backends share for the shape of a configuration write (each backend's
// `config_write`).

/// How a configuration write moves the tenant's revision.
pub(crate) enum Revision {
    /// From this revision (the snapshot the write was validated against), else the write
    /// is `StaleRevision`.
    Expect(i64),
    /// Whatever it is now (the write needs no validation against the configuration).
    Bump,
}

/// What a configuration write's row change ends with.
pub(crate) enum Change {
    /// The rows changed: append these events; `versioned` records the compiled set's text
    /// as a new policy-set version (policy writes) where it changed.
    Done {
        events: Vec<(TenantId, NewEvent)>,
        versioned: bool,
    },
    /// Nothing to write: the transaction rolls back and the write answers this.
    Refused(WriteOutcome),
}

impl Change {
    pub(crate) fn done(events: Vec<(TenantId, NewEvent)>) -> Self {
        Change::Done {
            events,
            versioned: false,
        }
    }

    pub(crate) fn versioned(events: Vec<(TenantId, NewEvent)>) -> Self {
        Change::Done {
            events,
            versioned: true,
        }
    }
}

/// The sweeper's two walks (each served by a partial index on `expires_at`): active grants,
/// which become EXPIRED, and pending ones, which become APPROVAL_EXPIRED, once `expires_at`
/// (for a pending grant, its approval deadline) has passed.
pub(crate) const DUE_LIVE: &str = "g.status IN ('GRANTED', 'EXTENDED')";
pub(crate) const DUE_PENDING: &str = "g.status = 'PENDING_APPROVAL'";

/// The stored statuses of grants that give access (with `expires_at` still ahead).
pub(crate) const LIVE: &str = "('GRANTED', 'EXTENDED')";
/// The stored statuses a bulk revoke ends: live grants, and pending ones (withdrawn, so
/// that an offboarding leaves no request that an approval could still activate).
pub(crate) const REVOCABLE: &str = "('GRANTED', 'EXTENDED', 'PENDING_APPROVAL')";

/// Events as a backend appended them (`place_events`), with their tenants; and those of
/// tenants `hooked` says have webhooks that may stand for provisioning events: what the
/// append hands its outbox, in the same transaction.
pub(crate) fn appended(
    placed: Vec<crate::domain::audit::Placed>,
) -> Result<Vec<(TenantId, AuditEvent)>> {
    placed
        .into_iter()
        .map(|p| {
            let tenant = p
                .tenant
                .parse()
                .map_err(|_| Error::internal(anyhow::anyhow!("corrupt placed tenant id")))?;
            Ok((tenant, p.event))
        })
        .collect()
}

/// The appended events that may stand for provisioning events, of tenants `hooked` says
/// have webhooks (see `domain::webhook::may_notify`).
pub(crate) fn to_notify(
    appended: &[(TenantId, AuditEvent)],
    hooked: impl Fn(&TenantId) -> bool,
) -> Vec<(TenantId, &AuditEvent)> {
    appended
        .iter()
        .filter(|(t, e)| hooked(t) && crate::domain::webhook::may_notify(e))
        .map(|(t, e)| (*t, e))
        .collect()
}

/// Opens the store a database URL names, and migrates it.
pub async fn open(url: &str) -> Result<DynStore> {
    open_with(url, false).await
}

/// [`open`] for a server: the store takes ownership of SQLite's decision journal where no
/// other process has (see `sqlite::appender`).
/// Opens the store for a long-running server, which starts the backend's own background
/// work (SQLite: it takes the decision journal, and refreshes planner statistics hourly).
pub async fn open_serving(url: &str) -> Result<DynStore> {
    open_with(url, true).await
}

async fn open_with(url: &str, serving: bool) -> Result<DynStore> {
    if url.starts_with("sqlite:") {
        let store = Arc::new(if serving {
            sqlite::SqliteStore::connect_owning(url).await?
        } else {
            sqlite::SqliteStore::connect(url).await?
        });
        store.migrate().await?;
        if serving {
            store.start_upkeep();
        }
        Ok(store)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = Arc::new(postgres::PgStore::connect(url).await?);
        store.migrate().await?;
        Ok(store)
    } else {
        Err(Error::invalid(format!(
            "unsupported database URL {:?}: expected sqlite://PATH or postgres://USER@HOST/DATABASE",
            redact_url(url)
        )))
    }
}

/// `grantd backup`: an online, consistent copy of the database at `url` into `dest`, with
/// every decision event acknowledged before it was taken.
pub async fn backup(url: &str, dest: &std::path::Path) -> Result<sqlite::BackupReport> {
    if !url.starts_with("sqlite:") {
        return Err(Error::invalid(
            "grantd backup copies SQLite databases; back up other databases with their own tools",
        ));
    }
    sqlite::backup_url(url, dest).await
}

/// A URL with any password replaced, safe for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            super::redact_url("sqlite://grantd.db"),
            "sqlite://grantd.db"
        );
    }
}
