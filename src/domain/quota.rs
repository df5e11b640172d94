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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded() {
        assert!(Limit::new(0, 1).is_err());
        assert!(Limit::new(1, 0).is_err());
        assert!(Limit::new(1, Limit::MAX + 1).is_err());
        assert_eq!(Limit::new(5, 10), Ok(Limit { rps: 5, burst: 10 }));
    }
}
