//! API keys: create (shown once), list (never the secret), revoke, and authenticate.

use super::Caller;
use crate::domain::audit::{Actor, EventKind, NewEvent, Subject};
use crate::domain::ids::{KeyId, TenantId};
use crate::domain::key::{self, PresentedKey};
use crate::domain::role::Role;
use crate::error::{Error, Result};
use crate::store::{DynStore, KeyRecord};
use chrono::{DateTime, Utc};
use serde_json::json;

pub const MAX_KEY_NAME: usize = 200;

pub fn check_name(name: Option<&str>) -> Result<()> {
    match name {
        Some(n) if n.chars().count() > MAX_KEY_NAME => Err(Error::invalid(format!(
            "name: at most {MAX_KEY_NAME} characters"
        ))),
        Some(n) if n.chars().any(char::is_control) => {
            Err(Error::invalid("name: control characters are not allowed"))
        }
        _ => Ok(()),
    }
}

/// Builds a new key record and the plaintext that is shown once.
pub fn new_key(role: Role, name: Option<String>, now: DateTime<Utc>) -> (KeyRecord, String) {
    let k = key::generate();
    let rec = KeyRecord {
        id: k.id,
        tenant_id: TenantId(uuid::Uuid::nil()),
        role,
        name,
        secret_hash: k.hash,
        created_at: now,
        revoked_at: None,
    };
    (rec, k.plaintext)
}

pub fn create_event(actor: Actor, key: &KeyRecord) -> NewEvent {
    NewEvent::new(
        key.created_at,
        actor,
        EventKind::KeyCreate,
        Subject::new("key", key.id),
    )
    .with_request(json!({"role": key.role, "name": key.name}))
}

/// Creates a key in `tenant`. Returns the stored record and the plaintext key.
pub async fn create(
    store: &DynStore,
    tenant: TenantId,
    actor: Actor,
    role: Role,
    name: Option<String>,
    now: DateTime<Utc>,
) -> Result<(KeyRecord, String)> {
    check_name(name.as_deref())?;
    let (mut rec, plaintext) = new_key(role, name, now);
    rec.tenant_id = tenant;
    store
        .create_key(tenant, &rec, create_event(actor, &rec))
        .await?;
    Ok((rec, plaintext))
}

pub async fn revoke(
    store: &DynStore,
    tenant: TenantId,
    actor: Actor,
    id: KeyId,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = NewEvent::new(now, actor, EventKind::KeyRevoke, Subject::new("key", id));
    if store.revoke_key(tenant, id, now, event).await? {
        Ok(())
    } else {
        Err(Error::not_found("no such key"))
    }
}

/// The outcome of checking the presented credentials, before the role is considered.
pub enum Authn {
    Ok(Caller),
    /// A valid key used with another tenant id; the key's own tenant gets the audit event.
    TenantMismatch {
        key: KeyRecord,
    },
}

/// Key records by id, so authentication costs no database read. Entries are dropped the
/// moment a revocation commits (the store's commit listener) and, for revocations made by
/// another process, when the change poller sees the number of revoked keys move.
pub struct KeyCache {
    cache: moka::sync::Cache<KeyId, std::sync::Arc<KeyRecord>>,
    /// Bumped by every revocation, under the same lock as the cache insert: a record read
    /// from the database while a revocation committed is never cached.
    revocations: std::sync::Mutex<u64>,
}

impl KeyCache {
    pub fn new(capacity: u64) -> Self {
        KeyCache {
            cache: moka::sync::Cache::new(capacity),
            revocations: std::sync::Mutex::new(0),
        }
    }

    fn generation(&self) -> u64 {
        *self.revocations.lock().expect("key cache lock")
    }

    async fn find(&self, store: &DynStore, id: KeyId) -> Result<Option<std::sync::Arc<KeyRecord>>> {
        if let Some(k) = self.cache.get(&id) {
            return Ok(Some(k));
        }
        let before = self.generation();
        let Some(k) = store.find_key(id).await? else {
            return Ok(None);
        };
        let k = std::sync::Arc::new(k);
        // A revoked key is not cached: it fails either way, and an unbounded stream of
        // revoked-key attempts should not evict live keys.
        if k.revoked_at.is_none() {
            let generation = self.revocations.lock().expect("key cache lock");
            if *generation == before {
                self.cache.insert(id, k.clone());
            }
        }
        Ok(Some(k))
    }

    pub fn invalidate(&self, id: KeyId) {
        let mut generation = self.revocations.lock().expect("key cache lock");
        *generation += 1;
        self.cache.invalidate(&id);
    }

    pub fn clear(&self) {
        let mut generation = self.revocations.lock().expect("key cache lock");
        *generation += 1;
        self.cache.invalidate_all();
    }
}

/// Checks a presented key. `Err(Unauthenticated)` for anything that is not a live key:
/// unknown, wrong secret, revoked. All of them get the same message.
pub async fn authenticate(
    store: &DynStore,
    cache: &KeyCache,
    presented: &PresentedKey,
    tenant: TenantId,
    on_behalf_of: Option<String>,
) -> Result<Authn> {
    let unauthenticated = || Error::Unauthenticated("unknown or revoked API key".into());
    let key = cache
        .find(store, presented.id)
        .await?
        .ok_or_else(unauthenticated)?;
    if !presented.matches(&key.secret_hash) || key.revoked_at.is_some() {
        return Err(unauthenticated());
    }
    if key.tenant_id != tenant {
        return Ok(Authn::TenantMismatch {
            key: KeyRecord::clone(&key),
        });
    }
    Ok(Authn::Ok(Caller {
        tenant_id: tenant,
        key_id: key.id,
        role: key.role,
        on_behalf_of,
        min_policy_set_version: None,
    }))
}
