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
    let mut out = String::with_capacity(27);
    push_ts(t, &mut out);
    out
}

/// Appends `format_ts(t)` to `out`. Written digit by digit: this runs for every audit event
/// (twice) and every timestamp in a response, and chrono's `format` re-parses its pattern
/// each call. Years outside 0..=9999 and leap seconds take chrono's path, which is the
/// definition this must equal (checked by `fast_format_equals_chrono`).
pub fn push_ts(t: &DateTime<Utc>, out: &mut String) {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        out.push_str(&t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        return;
    }
    let mut buf = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 6, nanos / 1000);
    out.push_str(std::str::from_utf8(&buf).expect("ASCII digits"));
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
    fn fast_format_equals_chrono() {
        use chrono::TimeZone;
        let chrono_fmt = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let mut samples = vec![
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(-1, 999_999_999).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-5, 3, 1, 4, 5, 6).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            // A leap second as chrono represents it.
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap(),
        ];
        // A spread of instants across centuries, with odd fractions.
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = x.rem_euclid(8_000_000_000) - 1_000_000_000;
            let nanos = (x.rem_euclid(1_000_000_007) % 1_000_000_000) as u32;
            samples.push(Utc.timestamp_opt(secs, nanos).unwrap());
        }
        for t in samples {
            assert_eq!(format_ts(&t), chrono_fmt(&t), "{t:?}");
        }
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
