//! Use cases. Handlers and the CLI call these; they own the rules (what is allowed, what is
//! audited) and talk to the store, never to HTTP.

pub mod approvals;
pub mod catalog;
pub mod changes;
pub mod decisions;
pub mod grant_list;
pub mod grants;
pub mod import;
pub mod keys;
pub mod lint;
pub mod policies;
pub mod policy_sets;
pub mod policy_tests;
pub mod quotas;
pub mod reevaluate;
pub mod tenants;
pub mod webhooks;

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
    /// `X-Min-Policy-Set-Version`: decisions of this request are made on this policy-set
    /// version or a newer one (see [`Services::policy_set`]).
    pub min_policy_set_version: Option<i64>,
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

impl Services {
    /// The tenant's compiled set for a decision of `caller`'s request, at least as recent
    /// as the version it asks for: the larger of its `X-Min-Policy-Set-Version` header and
    /// the body's `min_policy_set_version`, if either is given.
    pub async fn policy_set(
        &self,
        caller: &Caller,
        body_min: Option<i64>,
    ) -> crate::error::Result<std::sync::Arc<crate::cedar::engine::CompiledSet>> {
        if body_min.is_some_and(|v| v < 0) {
            return Err(crate::error::Error::invalid(
                "min_policy_set_version must be a non-negative integer",
            ));
        }
        let min = caller.min_policy_set_version.max(body_min);
        self.policy_sets.at_least(caller.tenant_id, min).await
    }
}

/// What every service needs.
#[derive(Clone)]
pub struct Services {
    /// Request quotas per tenant and per key (see [`quotas`]).
    pub quotas: std::sync::Arc<quotas::Quotas>,
    pub store: crate::store::DynStore,
    pub clock: SharedClock,
    pub audit: crate::audit::AuditWriter,
    pub cursors: crate::domain::page::CursorCodec,
    pub policy_sets: std::sync::Arc<policy_sets::PolicySets>,
    pub keys: std::sync::Arc<keys::KeyCache>,
}
