//! Tenants: created by the CLI (and the first `serve` on an empty database), each with the
//! default schema from the policies directory and a first admin key.

use super::keys;
use crate::domain::audit::Actor;
use crate::domain::ids::TenantId;
use crate::domain::role::Role;
use crate::error::{Error, Result};
use crate::store::{DynStore, NewTenant};
use chrono::{DateTime, Utc};
use std::path::Path;

pub const SCHEMA_FILE: &str = "schema.cedarschema";

/// Reads and checks the default schema of the policies directory.
pub fn load_default_schema(policies_dir: &Path) -> Result<String> {
    let path = policies_dir.join(SCHEMA_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::invalid(format!(
            "cannot read the default schema {}: {e}",
            path.display()
        ))
    })?;
    let (_schema, _warnings) = cedar_policy::Schema::from_cedarschema_str(&text).map_err(|e| {
        Error::invalid(format!(
            "the default schema {} is not valid Cedar: {e}",
            path.display()
        ))
    })?;
    Ok(text)
}

pub fn check_name(name: &str) -> Result<()> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err(Error::invalid(
            "tenant name: 1 to 200 characters, no control characters",
        ));
    }
    Ok(())
}

/// Creates a tenant and its first admin key; returns the tenant id and the key (shown once).
pub async fn create(
    store: &DynStore,
    name: &str,
    cedarschema: String,
    now: DateTime<Utc>,
) -> Result<(TenantId, String)> {
    create_with(store, name, cedarschema, now, false)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the tenant was not created")))
}

/// [`create`], only on a database without any tenant (`None` where one exists): the
/// bootstrap, safe when several processes start together on a new database.
pub async fn create_first(
    store: &DynStore,
    name: &str,
    cedarschema: String,
    now: DateTime<Utc>,
) -> Result<Option<(TenantId, String)>> {
    create_with(store, name, cedarschema, now, true).await
}

async fn create_with(
    store: &DynStore,
    name: &str,
    cedarschema: String,
    now: DateTime<Utc>,
    only_if_first: bool,
) -> Result<Option<(TenantId, String)>> {
    check_name(name)?;
    let tenant = NewTenant {
        id: TenantId::new(),
        name: name.trim().to_string(),
        cedarschema,
        created_at: now,
        only_if_first,
    };
    let (mut key, plaintext) = keys::new_key(Role::Admin, Some("first admin key".into()), now);
    key.tenant_id = tenant.id;
    let event = keys::create_event(Actor::cli(), &key);
    let created = store.create_tenant(&tenant, &key, event).await?;
    Ok(created.then_some((tenant.id, plaintext)))
}
