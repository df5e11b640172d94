//! Persistence behind one interface. Handlers and services hold a [`DynStore`] and never see
//! SQL or a database type; each backend (SQLite now, PostgreSQL next) implements [`Store`].
//! Every method that touches tenant data takes the tenant id, and every mutation appends its
//! audit event in the same transaction.

pub mod sqlite;

use crate::domain::audit::{AuditEvent, NewEvent, VerifyReport};
use crate::domain::ids::{KeyId, TenantId};
use crate::domain::role::Role;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub type DynStore = Arc<dyn Store>;

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
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Whether the database answers.
    async fn ping(&self) -> Result<()>;
    /// Closes the connections; later calls fail as `unavailable`.
    async fn close(&self);

    async fn count_tenants(&self) -> Result<i64>;
    /// Creates a tenant with its schema, its first key and that key's `key.create` event.
    async fn create_tenant(
        &self,
        tenant: &NewTenant,
        first_key: &KeyRecord,
        event: NewEvent,
    ) -> Result<()>;

    /// Looks a key up by its public id, across tenants: this is how a request finds its
    /// tenant, so it is the one read not scoped by a tenant id.
    async fn find_key(&self, id: KeyId) -> Result<Option<KeyRecord>>;
    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, event: NewEvent) -> Result<()>;
    async fn list_keys(&self, tenant: TenantId) -> Result<Vec<KeyRecord>>;
    /// Revokes a key of this tenant. `Ok(false)` when the tenant has no such key; revoking a
    /// revoked key changes nothing and appends nothing.
    async fn revoke_key(
        &self,
        tenant: TenantId,
        id: KeyId,
        at: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<bool>;

    /// Appends events (possibly of several tenants) in one transaction: the group commit.
    async fn append_events(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<AuditEvent>>;
    /// Recomputes a tenant's chain from its anchor.
    async fn verify_chain(&self, tenant: TenantId) -> Result<VerifyReport>;

    async fn get_schema(&self, tenant: TenantId) -> Result<String>;
}

/// Opens the store a database URL names, and migrates it.
pub async fn open(url: &str) -> Result<DynStore> {
    let store: DynStore = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::connect(url).await?)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(Error::invalid(
            "the PostgreSQL backend is not available in this version of grantd; use a sqlite:// URL",
        ));
    } else {
        return Err(Error::invalid(format!(
            "unsupported database URL {:?}: expected sqlite://PATH",
            redact_url(url)
        )));
    };
    store.migrate().await?;
    Ok(store)
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
