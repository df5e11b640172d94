//! Roles and what they may do. [`Permission`] is the one table that mirrors the contract's
//! role table; routes name a permission, never a list of roles.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Author,
    Requester,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Author, Role::Requester, Role::Auditor];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Author => "author",
            Role::Requester => "requester",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "author" => Ok(Role::Author),
            "requester" => Ok(Role::Requester),
            "auditor" => Ok(Role::Auditor),
            other => Err(format!(
                "unknown role {other:?}; expected admin, author, requester or auditor"
            )),
        }
    }
}

/// Everything a route can require. `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `POST/GET/DELETE /v1/keys`
    ManageKeys,
    /// Read policies, schema, entities and policy-set versions.
    ReadPolicies,
    /// Write policies, schema and entities.
    WritePolicies,
    /// `POST /v1/authorize[/batch]`
    Authorize,
    /// Request, extend, revoke a grant; change its scopes.
    WriteGrants,
    /// Read grants, including `grants/list`.
    ReadGrants,
    /// `POST /v1/access/check`
    AccessCheck,
    /// Admin-only grant fields and bulk revoke.
    AdminGrants,
    /// Audit events and their verification.
    ReadAudit,
    /// `PUT /v1/settings`, `PUT /v1/quota` (the tenant's own settings and limit).
    ManageSettings,
    /// `/v1/webhooks` and their deliveries (they hold signing secrets).
    ManageWebhooks,
    /// `GET /v1/quota`: every role may see the limits its calls are held to.
    ReadQuota,
}

impl Permission {
    pub fn allows(self, role: Role) -> bool {
        use Permission::*;
        use Role::*;
        match role {
            Admin => true,
            Author => matches!(self, ReadPolicies | WritePolicies | Authorize | ReadQuota),
            Requester => matches!(
                self,
                Authorize | WriteGrants | ReadGrants | AccessCheck | ReadQuota
            ),
            Auditor => matches!(self, ReadPolicies | ReadGrants | ReadAudit | ReadQuota),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn table_matches_contract() {
        use Permission::*;
        assert!(ManageKeys.allows(Role::Admin));
        for r in [Role::Author, Role::Requester, Role::Auditor] {
            assert!(!ManageKeys.allows(r));
            assert!(!AdminGrants.allows(r));
            assert!(!ManageWebhooks.allows(r));
        }
        assert!(WritePolicies.allows(Role::Author));
        assert!(!WritePolicies.allows(Role::Auditor));
        assert!(!WritePolicies.allows(Role::Requester));
        assert!(ReadAudit.allows(Role::Auditor));
        assert!(!ReadAudit.allows(Role::Author));
        assert!(!ReadAudit.allows(Role::Requester));
        assert!(AccessCheck.allows(Role::Requester));
        assert!(!AccessCheck.allows(Role::Author));
        assert!(Authorize.allows(Role::Author));
        assert!(!Authorize.allows(Role::Auditor));
    }
}
