//! Rate-limited logging of repeated failures. A fault (a full disk, a lost database) makes
//! every request and every background pass fail the same way; a line for each would flood
//! the log — on the disk that is full, at thousands of lines a second. A [`LogThrottle`]
//! admits one line per window and counts what it left out, and the next admitted line
//! carries that count.
//!
//! Written here rather than taken from a crate: what is needed is a count of suppressed
//! lines per call site, which rate limiters (`governor`) do not keep and tracing layers that
//! sample do not report; it is a dozen lines.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One call site's throttle: at most one line per `window`.
#[derive(Debug)]
pub struct LogThrottle {
    window: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogThrottle {
    pub const fn new(window: Duration) -> Self {
        LogThrottle {
            window,
            state: Mutex::new((None, 0)),
        }
    }

    /// Whether a line at `now` is logged; if so, how many were left out since the last one.
    pub fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.0 {
            Some(t) if now.saturating_duration_since(t) < self.window => {
                s.1 += 1;
                None
            }
            _ => {
                s.0 = Some(now);
                Some(std::mem::take(&mut s.1))
            }
        }
    }

    /// [`LogThrottle::admit_at`] now.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::LogThrottle;
    use std::time::{Duration, Instant};

    #[test]
    fn one_line_a_window_with_the_count_left_out() {
        let log = LogThrottle::new(Duration::from_secs(1));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(log.admit_at(at(0)), Some(0));
        assert_eq!(log.admit_at(at(1)), None);
        assert_eq!(log.admit_at(at(999)), None);
        // a window after the last line logged: logged, counting the two left out
        assert_eq!(log.admit_at(at(1000)), Some(2));
        assert_eq!(log.admit_at(at(1500)), None);
        // a quiet spell, then the next failure is logged at once
        assert_eq!(log.admit_at(at(60_000)), Some(1));
        assert_eq!(log.admit_at(at(60_001)), None);
    }
}
