//! The one clock. Everything that depends on "now" (timestamps, expiry, audit `at`) asks a
//! [`Clock`], so tests can move time instead of sleeping.

use chrono::{DateTime, SubsecRound, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, truncated to microseconds: the precision every timestamp is stored with.
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that stands still until told to move; for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start.trunc_subsecs(6)))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = t.trunc_subsecs(6);
    }
    pub fn advance(&self, d: chrono::Duration) {
        let mut g = self.0.lock().expect("clock lock");
        *g = (*g + d).trunc_subsecs(6);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// RFC 3339 UTC with exactly six fraction digits, the contract's timestamp format. Because
/// the width is fixed, these strings sort like the instants they name.
pub fn format_ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
}

/// Serde adapter so every timestamp field is written in the contract's format.
pub mod ts {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_ts(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_ts(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::format_ts(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(s) => super::super::parse_ts(&s)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_has_six_digits_and_z() {
        let t = parse_ts("2024-04-10T15:45:00.1234567+02:00").unwrap();
        assert_eq!(format_ts(&t), "2024-04-10T13:45:00.123456Z");
        let t = parse_ts("2024-04-10T15:45:00Z").unwrap();
        assert_eq!(format_ts(&t), "2024-04-10T15:45:00.000000Z");
        assert!(parse_ts("yesterday").is_none());
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(parse_ts("2024-01-01T00:00:00Z").unwrap());
        let a = c.now();
        assert_eq!(a, c.now());
        c.advance(chrono::Duration::seconds(90));
        assert_eq!(format_ts(&c.now()), "2024-01-01T00:01:30.000000Z");
    }
}
