//! A tenant's configuration as the decision engine compiles it: schema, enabled policies
//! and entities at one revision — what a store reads and `crate::cedar::engine` compiles.

use super::policy::Policy;

/// One stored entity: its uid and its Cedar JSON (`{"uid", "attrs", "parents"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRow {
    pub etype: String,
    pub id: String,
    pub body: String,
}

/// Everything the decision engine compiles, read in one snapshot.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    /// The configuration revision: the compiled set's `policy_set_version`.
    pub revision: i64,
    pub cedarschema: String,
    /// Enabled policies only.
    pub policies: Vec<Policy>,
    pub entities: Vec<EntityRow>,
}
