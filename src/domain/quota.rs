//! A request quota's limit: a token bucket's rate and size (the buckets themselves are
//! `service::quotas`).

use serde::{Deserialize, Serialize};

/// A token bucket's rate and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Tokens added per second (calls per second, sustained); 1..=1,000,000.
    pub rps: u32,
    /// The bucket's size: calls that may come at once; 1..=1,000,000.
    pub burst: u32,
}

impl Limit {
    pub const MAX: u32 = 1_000_000;

    /// A limit with both numbers in 1..=1,000,000.
    pub fn new(rps: u32, burst: u32) -> std::result::Result<Limit, String> {
        for (name, v) in [("rps", rps), ("burst", burst)] {
            if !(1..=Self::MAX).contains(&v) {
                return Err(format!("{name}: must be from 1 to {}", Self::MAX));
            }
        }
        Ok(Limit { rps, burst })
    }

    /// The limit a pair of `--…-rps`/`--…-burst` options gives: none unless both are set.
    pub fn from_options(
        rps: Option<u32>,
        burst: Option<u32>,
    ) -> std::result::Result<Option<Limit>, String> {
        match (rps, burst) {
            (Some(rps), Some(burst)) => Limit::new(rps, burst).map(Some),
            _ => Ok(None),
        }
    }

    /// The lower of two limits, number by number.
    pub fn min(self, other: Limit) -> Limit {
        Limit {
            rps: self.rps.min(other.rps),
            burst: self.burst.min(other.burst),
        }
    }
}

/// Who set one of a tenant's own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaSetter {
    /// The operator (`grantd tenant quota`): replaces the instance default, up or down.
    Operator,
    /// The tenant's admin (`PUT /v1/quota`): can only lower what the operator allows.
    Tenant,
}

/// A tenant's own limits, each `None` when not set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantQuota {
    pub operator: Option<Limit>,
    pub tenant: Option<Limit>,
}

impl TenantQuota {
    /// The limit that holds for the tenant: the operator's (else `default`, the instance's),
    /// lowered by the tenant's own where that is lower. `None`: unlimited.
    pub fn effective(&self, default: Option<Limit>) -> Option<Limit> {
        match (self.operator.or(default), self.tenant) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenants_own_limit_only_lowers_what_the_operator_allows() {
        let l = |r, b| Limit::new(r, b).unwrap();
        let q = |operator, tenant| TenantQuota { operator, tenant };
        assert_eq!(q(None, None).effective(None), None);
        assert_eq!(q(None, None).effective(Some(l(10, 20))), Some(l(10, 20)));
        // The operator's replaces the default, up or down.
        assert_eq!(
            q(Some(l(50, 5)), None).effective(Some(l(10, 20))),
            Some(l(50, 5))
        );
        // The tenant's lowers, number by number, and never raises.
        assert_eq!(
            q(None, Some(l(100, 1))).effective(Some(l(10, 20))),
            Some(l(10, 1))
        );
        assert_eq!(
            q(Some(l(50, 5)), Some(l(100, 100))).effective(None),
            Some(l(50, 5))
        );
        // Without any other limit, the tenant's own holds.
        assert_eq!(q(None, Some(l(3, 4))).effective(None), Some(l(3, 4)));
    }

    #[test]
    fn limits_are_bounded() {
        assert!(Limit::new(0, 1).is_err());
        assert!(Limit::new(1, 0).is_err());
        assert!(Limit::new(1, Limit::MAX + 1).is_err());
        assert_eq!(Limit::new(5, 10), Ok(Limit { rps: 5, burst: 10 }));
    }
}
