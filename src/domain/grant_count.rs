//! When a grants/list `total` can be summed from per-day counts instead of counted grant by
//! grant.
//!
//! The store keeps, per tenant, how many grants have each stored status and a value on each
//! UTC day in `expires_at`, `last_used_at` and `granted_at` (the store's day counts). A
//! filter set made only of ranges on one of those columns and effective-status sets is
//! answered as: the per-day counts of the days strictly inside the range, plus an exact
//! count (with every filter) of the grants on the *exact days*: the range's end days and,
//! where expiry decides the effective status, today. On a whole day every grant is inside
//! the range and its effective status follows from its stored status and which side of
//! today the day lies on, so the sum is exact — never an estimate.
//!
//! The effective status of a stored GRANTED or EXTENDED grant is EXPIRED once `expires_at`
//! has passed; that split can only be read off the days of `expires_at` itself, so a status
//! set that separates a live grant from its expired self is planned only on `expires_at`.

use super::grant_query::{Cond, StatusSet, TimeCol, TimeTest};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// Which whole days a stored status is counted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    All,
    /// Days before today (their `expires_at` has passed).
    BeforeToday,
    /// Days after today (their `expires_at` is still ahead).
    AfterToday,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCountPlan {
    pub col: TimeCol,
    /// Whole days are those strictly after `after` and strictly before `before` (unbounded
    /// where `None`), other than the exact days.
    pub after: Option<NaiveDate>,
    pub before: Option<NaiveDate>,
    /// Days whose grants are counted one by one with every filter.
    pub exact: Vec<NaiveDate>,
    pub today: NaiveDate,
    /// The stored statuses counted on whole days, and on which of them.
    pub statuses: Vec<(&'static str, Days)>,
}

/// The plan for `conds` at `now`, or `None` when the filters need a count of the grants.
/// An empty filter set is not planned here (the tenant's grant count answers it).
pub fn day_count_plan(conds: &[Cond], now: DateTime<Utc>) -> Option<DayCountPlan> {
    if conds.is_empty() {
        return None;
    }
    let mut status = StatusSet::ALL;
    let mut col: Option<TimeCol> = None;
    let (mut from, mut to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    for c in conds {
        match c {
            Cond::Status(s) => status = status.intersect(*s),
            Cond::Time(
                c @ (TimeCol::ExpiresAt | TimeCol::LastUsedAt | TimeCol::GrantedAt),
                TimeTest::Range { from: f, to: t },
            ) => {
                if col.is_some_and(|prev| prev != *c) {
                    return None;
                }
                col = Some(*c);
                if let Some(f) = f {
                    from = Some(from.map_or(*f, |x| x.max(*f)));
                }
                if let Some(t) = t {
                    to = Some(to.map_or(*t, |x| x.min(*t)));
                }
            }
            _ => return None,
        }
    }
    // stored-status bits of `StatusSet`, the stored spelling, and for a status that
    // `expires_at` ends (live grants; pending ones, whose `expires_at` is the approval
    // deadline) the effective status it becomes
    const STORED: [(StatusSet, &str, Option<StatusSet>); 7] = [
        (StatusSet::GRANTED, "GRANTED", Some(StatusSet::EXPIRED)),
        (StatusSet::EXTENDED, "EXTENDED", Some(StatusSet::EXPIRED)),
        (StatusSet::REVOKED, "REVOKED", None),
        (StatusSet::EXPIRED, "EXPIRED", None),
        (
            StatusSet::PENDING_APPROVAL,
            "PENDING_APPROVAL",
            Some(StatusSet::APPROVAL_EXPIRED),
        ),
        (StatusSet::APPROVAL_EXPIRED, "APPROVAL_EXPIRED", None),
        (StatusSet::DENIED, "DENIED", None),
    ];
    let mut statuses = Vec::new();
    let mut split_by_expiry = false;
    for (bit, name, ended) in STORED {
        let live = ended.is_some();
        let days = match (
            status.contains(bit),
            ended.is_some_and(|e| status.contains(e)),
        ) {
            (true, true) => Days::All,
            (true, false) if live => {
                split_by_expiry = true;
                Days::AfterToday
            }
            (true, false) => Days::All,
            (false, true) => {
                split_by_expiry = true;
                Days::BeforeToday
            }
            (false, false) => continue,
        };
        statuses.push((name, days));
    }
    let col = col.unwrap_or(TimeCol::ExpiresAt);
    if split_by_expiry && col != TimeCol::ExpiresAt {
        return None;
    }
    // stored timestamps are four-digit years; stay where text order is time order
    let plain = |t: &DateTime<Utc>| (1..=9999).contains(&t.year());
    if !from.iter().chain(to.iter()).all(plain) || !plain(&now) {
        return None;
    }
    let (after, before) = (from.map(|t| t.date_naive()), to.map(|t| t.date_naive()));
    let today = now.date_naive();
    let mut exact: Vec<NaiveDate> = after.into_iter().chain(before).collect();
    if split_by_expiry {
        exact.push(today);
    }
    exact.sort();
    exact.dedup();
    Some(DayCountPlan {
        col,
        after,
        before,
        exact,
        today,
        statuses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ts(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn range(col: TimeCol, from: Option<&str>, to: Option<&str>) -> Cond {
        Cond::Time(
            col,
            TimeTest::Range {
                from: from.map(ts),
                to: to.map(ts),
            },
        )
    }
    const NOW: &str = "2026-12-01T10:00:00Z";

    #[test]
    fn an_unused_since_filter_sums_days_before_the_bound() {
        let p = day_count_plan(
            &[range(
                TimeCol::LastUsedAt,
                None,
                Some("2026-11-01T10:00:00Z"),
            )],
            ts(NOW),
        )
        .unwrap();
        assert_eq!(p.col, TimeCol::LastUsedAt);
        assert_eq!((p.after, p.before), (None, Some(day("2026-11-01"))));
        assert_eq!(p.exact, vec![day("2026-11-01")]);
        assert_eq!(p.statuses.len(), 7);
        assert!(p.statuses.iter().all(|(_, d)| *d == Days::All));
    }

    #[test]
    fn pending_approvals_split_at_their_deadline_like_live_grants() {
        let p = day_count_plan(&[Cond::Status(StatusSet::PENDING_APPROVAL)], ts(NOW)).unwrap();
        assert_eq!(p.col, TimeCol::ExpiresAt);
        assert_eq!(p.statuses, vec![("PENDING_APPROVAL", Days::AfterToday)]);
        let p = day_count_plan(&[Cond::Status(StatusSet::APPROVAL_EXPIRED)], ts(NOW)).unwrap();
        assert_eq!(
            p.statuses,
            vec![
                ("PENDING_APPROVAL", Days::BeforeToday),
                ("APPROVAL_EXPIRED", Days::All)
            ]
        );
        let p = day_count_plan(&[Cond::Status(StatusSet::DENIED)], ts(NOW)).unwrap();
        assert_eq!(p.statuses, vec![("DENIED", Days::All)]);
    }

    #[test]
    fn active_is_live_statuses_after_today_on_expires_at() {
        let p = day_count_plan(&[Cond::Status(StatusSet::ACTIVE)], ts(NOW)).unwrap();
        assert_eq!(p.col, TimeCol::ExpiresAt);
        assert_eq!(p.exact, vec![day("2026-12-01")]);
        assert_eq!(
            p.statuses,
            vec![
                ("GRANTED", Days::AfterToday),
                ("EXTENDED", Days::AfterToday)
            ]
        );
        // expiring within a week, and active: both ends and today are exact
        let p = day_count_plan(
            &[
                Cond::Status(StatusSet::ACTIVE),
                range(
                    TimeCol::ExpiresAt,
                    Some("2026-11-24T10:00:00Z"),
                    Some("2026-12-08T10:00:00Z"),
                ),
            ],
            ts(NOW),
        )
        .unwrap();
        assert_eq!(
            p.exact,
            vec![day("2026-11-24"), day("2026-12-01"), day("2026-12-08")]
        );
    }

    #[test]
    fn expired_counts_live_statuses_before_today_and_stored_expired_always() {
        let p = day_count_plan(&[Cond::Status(StatusSet::EXPIRED)], ts(NOW)).unwrap();
        assert_eq!(
            p.statuses,
            vec![
                ("GRANTED", Days::BeforeToday),
                ("EXTENDED", Days::BeforeToday),
                ("EXPIRED", Days::All)
            ]
        );
        let p = day_count_plan(&[Cond::Status(StatusSet::INACTIVE)], ts(NOW)).unwrap();
        assert_eq!(
            p.statuses,
            vec![
                ("GRANTED", Days::BeforeToday),
                ("EXTENDED", Days::BeforeToday),
                ("REVOKED", Days::All),
                ("EXPIRED", Days::All)
            ]
        );
        // a set that keeps live grants whether or not they expired needs no split
        let p = day_count_plan(
            &[
                Cond::Status(StatusSet::ACTIVE.union(StatusSet::EXPIRED)),
                range(TimeCol::GrantedAt, Some("2026-01-01T00:00:00Z"), None),
            ],
            ts(NOW),
        )
        .unwrap();
        assert_eq!(
            p.statuses,
            vec![
                ("GRANTED", Days::All),
                ("EXTENDED", Days::All),
                ("EXPIRED", Days::All)
            ]
        );
        assert_eq!(p.col, TimeCol::GrantedAt);
        assert_eq!(p.exact, vec![day("2026-01-01")]);
        // one that keeps a live status but not its expired self does
        assert!(day_count_plan(
            &[
                Cond::Status(StatusSet::GRANTED.union(StatusSet::EXPIRED)),
                range(TimeCol::GrantedAt, Some("2026-01-01T00:00:00Z"), None),
            ],
            ts(NOW),
        )
        .is_none());
    }

    #[test]
    fn status_sets_and_ranges_intersect() {
        let p = day_count_plan(
            &[
                Cond::Status(StatusSet::INACTIVE),
                Cond::Status(StatusSet::REVOKED.union(StatusSet::GRANTED)),
                range(TimeCol::LastUsedAt, Some("2026-01-05T00:00:00Z"), None),
                range(
                    TimeCol::LastUsedAt,
                    Some("2026-01-03T00:00:00Z"),
                    Some("2026-02-01T00:00:00Z"),
                ),
            ],
            ts(NOW),
        )
        .unwrap();
        assert_eq!(p.statuses, vec![("REVOKED", Days::All)]);
        assert_eq!(
            (p.after, p.before),
            (Some(day("2026-01-05")), Some(day("2026-02-01")))
        );
        let none = day_count_plan(
            &[
                Cond::Status(StatusSet::ACTIVE),
                Cond::Status(StatusSet::REVOKED),
            ],
            ts(NOW),
        )
        .unwrap();
        assert!(none.statuses.is_empty());
    }

    #[test]
    fn other_filters_need_a_grant_count() {
        let now = ts(NOW);
        // expiry splits the status, but the range is on another column
        assert!(day_count_plan(
            &[
                Cond::Status(StatusSet::ACTIVE),
                range(TimeCol::LastUsedAt, None, Some("2026-11-01T00:00:00Z")),
            ],
            now
        )
        .is_none());
        // two columns
        assert!(day_count_plan(
            &[
                range(TimeCol::GrantedAt, Some("2026-01-01T00:00:00Z"), None),
                range(TimeCol::ExpiresAt, Some("2026-01-01T00:00:00Z"), None),
            ],
            now
        )
        .is_none());
        // a column without per-day counts, a non-range test, any other filter, no filter
        assert!(day_count_plan(&[range(TimeCol::UpdatedAt, None, None)], now).is_none());
        assert!(day_count_plan(
            &[Cond::Time(TimeCol::ExpiresAt, TimeTest::Null(false))],
            now
        )
        .is_none());
        assert!(day_count_plan(&[Cond::Search("x".into())], now).is_none());
        assert!(day_count_plan(&[], now).is_none());
        // a bound whose text would not sort as time
        let far = Utc.with_ymd_and_hms(12000, 1, 1, 0, 0, 0).unwrap();
        assert!(day_count_plan(
            &[Cond::Time(
                TimeCol::ExpiresAt,
                TimeTest::Range {
                    from: None,
                    to: Some(far)
                }
            )],
            now
        )
        .is_none());
    }
}
