//! Use cases. Handlers and the CLI call these; they own the rules (what is allowed, what is
//! audited) and talk to the store, never to HTTP.

pub mod catalog;
pub mod decisions;
pub mod grant_list;
pub mod grants;
pub mod import;
pub mod keys;
pub mod policies;
pub mod policy_sets;
pub mod tenants;

use crate::clock::SharedClock;
use crate::domain::audit::Actor;
use crate::domain::ids::{KeyId, TenantId};
use crate::domain::role::Role;

/// The authenticated caller of a request: who, for which tenant, in which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: TenantId,
    pub key_id: KeyId,
    pub role: Role,
    /// The human a portal acts for (`X-On-Behalf-Of`), carried to audit events.
    pub on_behalf_of: Option<String>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            key_id: self.key_id.to_string(),
            role: self.role.as_str().to_string(),
            on_behalf_of: self.on_behalf_of.clone(),
        }
    }
}

/// What every service needs.
#[derive(Clone)]
pub struct Services {
    pub store: crate::store::DynStore,
    pub clock: SharedClock,
    pub audit: crate::audit::AuditWriter,
    pub cursors: crate::domain::page::CursorCodec,
    pub policy_sets: std::sync::Arc<policy_sets::PolicySets>,
    pub keys: std::sync::Arc<keys::KeyCache>,
}
