//! Grants: the status machine, effective (expiry-aware) status, duration choice and caps,
//! and the choice of a grant's governing policy. Pure rules, unit-tested here.

use super::decision::EntityRef;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantStatus {
    Granted,
    Extended,
    Revoked,
    Expired,
    /// Permitted by a policy that requires approval; waiting for its approvers. Not active.
    PendingApproval,
    /// Its approvers did not approve it before the policy's approval timeout.
    ApprovalExpired,
    /// An approver denied it.
    Denied,
}

impl GrantStatus {
    pub const ALL: [GrantStatus; 7] = [
        GrantStatus::Granted,
        GrantStatus::Extended,
        GrantStatus::Revoked,
        GrantStatus::Expired,
        GrantStatus::PendingApproval,
        GrantStatus::ApprovalExpired,
        GrantStatus::Denied,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            GrantStatus::Granted => "GRANTED",
            GrantStatus::Extended => "EXTENDED",
            GrantStatus::Revoked => "REVOKED",
            GrantStatus::Expired => "EXPIRED",
            GrantStatus::PendingApproval => "PENDING_APPROVAL",
            GrantStatus::ApprovalExpired => "APPROVAL_EXPIRED",
            GrantStatus::Denied => "DENIED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_active(&self) -> bool {
        matches!(self, GrantStatus::Granted | GrantStatus::Extended)
    }

    /// Whether the grant is waiting for its approvers (before its approval deadline).
    pub fn is_pending(&self) -> bool {
        matches!(self, GrantStatus::PendingApproval)
    }

    /// The legal status changes: GRANTED→EXTENDED|REVOKED|EXPIRED, EXTENDED→REVOKED|EXPIRED,
    /// PENDING_APPROVAL→GRANTED (activation by its approvers)|DENIED|APPROVAL_EXPIRED|REVOKED
    /// (withdrawn); REVOKED, EXPIRED, DENIED and APPROVAL_EXPIRED are terminal. (Extending an
    /// EXTENDED grant again is the extend operation, not a status change.)
    pub fn can_become(&self, to: GrantStatus) -> bool {
        use GrantStatus::*;
        matches!(
            (self, to),
            (Granted, Extended | Revoked | Expired)
                | (Extended, Revoked | Expired)
                | (
                    PendingApproval,
                    Granted | Denied | ApprovalExpired | Revoked
                )
        )
    }
}

/// The status as every response, filter and check sees it: an active grant whose
/// `expires_at <= now` is EXPIRED at once, before the sweeper persists it; a pending one
/// whose approval deadline (its `expires_at`) has passed is APPROVAL_EXPIRED likewise.
pub fn effective_status(
    stored: GrantStatus,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> GrantStatus {
    if stored.is_active() && expires_at <= now {
        GrantStatus::Expired
    } else if stored.is_pending() && expires_at <= now {
        GrantStatus::ApprovalExpired
    } else {
        stored
    }
}

/// What a policy asks of the grants it governs before they become active (a policy's
/// `approval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequirement {
    /// Only this entity or its members (a `Group`, say) may approve or deny; absent: whoever
    /// the tenant's Cedar rules permit `Action::"approve"`. Either way Cedar decides each
    /// approval.
    #[serde(default)]
    pub approvers: Option<EntityRef>,
    /// How many distinct approvers must approve (1 to 10; default 1).
    #[serde(default = "one")]
    pub count: i64,
    /// How long a grant waits for its approvals before it becomes APPROVAL_EXPIRED (60 s to
    /// 30 days; default 86400).
    #[serde(default = "one_day")]
    pub timeout_seconds: i64,
}

fn one() -> i64 {
    1
}

/// `Ident(::Ident)*`, an identifier being `[A-Za-z_][A-Za-z0-9_]*`: a Cedar entity type
/// name as written.
fn is_type_name(s: &str) -> bool {
    s.split("::").all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn one_day() -> i64 {
    86_400
}

pub const MAX_APPROVERS: i64 = 10;
pub const MIN_APPROVAL_TIMEOUT: i64 = 60;
pub const MAX_APPROVAL_TIMEOUT: i64 = 30 * 86_400;

impl ApprovalRequirement {
    /// The field errors of this requirement, named under `prefix`.
    pub fn check(&self, prefix: &str) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if !(1..=MAX_APPROVERS).contains(&self.count) {
            errors.push((
                format!("{prefix}.count"),
                format!("must be 1 to {MAX_APPROVERS}"),
            ));
        }
        if !(MIN_APPROVAL_TIMEOUT..=MAX_APPROVAL_TIMEOUT).contains(&self.timeout_seconds) {
            errors.push((
                format!("{prefix}.timeout_seconds"),
                format!("must be {MIN_APPROVAL_TIMEOUT} to {MAX_APPROVAL_TIMEOUT} (30 days)"),
            ));
        }
        if let Some(a) = &self.approvers {
            let bad = |s: &str| s.is_empty() || s.len() > 256 || s.chars().any(char::is_control);
            if bad(&a.etype) || bad(&a.id) {
                errors.push((
                    format!("{prefix}.approvers"),
                    "type and id must be 1 to 256 characters without control characters".into(),
                ));
            } else if !is_type_name(&a.etype) {
                errors.push((
                    format!("{prefix}.approvers.type"),
                    format!(
                        "{:?} is not a Cedar entity type name (such as Group)",
                        a.etype
                    ),
                ));
            }
        }
        errors
    }
}

/// One approver's approval of a pending grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApprovalVote {
    /// The approver (`X-On-Behalf-Of`, a `User` id).
    pub approver: String,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// Where a grant that needed approval stands: the requirement it was requested under, the
/// approvals so far, and the denial if one came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApprovalState {
    pub approvers: Option<EntityRef>,
    /// Distinct approvers needed.
    pub required: i64,
    /// The approval deadline (while PENDING_APPROVAL this is also the grant's `expires_at`).
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub deadline: DateTime<Utc>,
    /// The duration the grant gets when it is activated (from activation; chosen at request
    /// time, clamped again to the governing policy's maximum at activation).
    pub duration_seconds: i64,
    pub approvals: Vec<ApprovalVote>,
    pub denied_by: Option<String>,
    #[serde(default, with = "crate::clock::ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub denied_at: Option<DateTime<Utc>>,
    pub deny_reason: Option<String>,
}

impl ApprovalState {
    pub fn approved_by(&self, who: &str) -> bool {
        self.approvals.iter().any(|a| a.approver == who)
    }

    /// Whether the approvals reach the required count.
    pub fn complete(&self) -> bool {
        self.approvals.len() as i64 >= self.required
    }

    /// The approvers, comma-separated: an activated grant's `granted_by`.
    pub fn approvers_text(&self) -> String {
        self.approvals
            .iter()
            .map(|a| a.approver.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub const PREAPPROVED: &str = "PREAPPROVED";
pub const APPROVAL_REQUIRED: &str = "APPROVAL_REQUIRED";

/// A grant as the API returns it (`status` is always the effective status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grant {
    pub id: Uuid,
    pub principal: EntityRef,
    pub resource: EntityRef,
    /// The resource if it is an `App`, else its nearest `App` ancestor, else null.
    pub app: Option<String>,
    pub scopes: Vec<String>,
    pub status: GrantStatus,
    /// `PREAPPROVED` (active as soon as a policy permits it) or `APPROVAL_REQUIRED` (its
    /// governing policy asked for approval: PENDING_APPROVAL until its approvers approve).
    pub grant_type: String,
    pub policy_id: Uuid,
    pub policy_key: Option<String>,
    pub requested_by: Option<String>,
    pub granted_by: Option<String>,
    pub reason: Option<String>,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub granted_at: DateTime<Utc>,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    pub extension_count: i64,
    #[serde(with = "crate::clock::ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::clock::ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
    pub audit_session: bool,
    pub notices: Vec<String>,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    /// A re-evaluation after a configuration change found that the policies no longer
    /// allow this grant (tenant setting `on_change`: `flag` or `clamp`); cleared when a
    /// later re-evaluation or decision (an extension, a scope change) allows it again.
    #[serde(default)]
    pub review_required: bool,
    /// Where its approval stands (grants of type `APPROVAL_REQUIRED` only). While the grant
    /// is PENDING_APPROVAL, `expires_at` is the approval deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalState>,
    /// How its last decision was made: what a change preview and re-evaluation re-decide
    /// it with. Not part of the API's grant.
    #[serde(skip)]
    pub last_decision: Option<LastDecision>,
}

/// The action and caller-supplied context of a grant's last decision (a request, a scope
/// change or policy move, both decided as `request`, or an extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastDecision {
    /// `request` or `extend`.
    pub action: String,
    /// The caller's extra context keys (not the `GrantContext` fields grantd fills in).
    #[serde(default)]
    pub context: Option<serde_json::Value>,
}

impl Grant {
    /// This grant with its `grant_type` told by its approval state (as read from a store).
    pub fn typed(mut self) -> Self {
        self.grant_type = if self.approval.is_some() {
            APPROVAL_REQUIRED
        } else {
            PREAPPROVED
        }
        .into();
        self
    }

    /// This grant with its effective status at `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.status = effective_status(self.status, self.expires_at, now);
        self
    }

    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        effective_status(self.status, self.expires_at, now).is_active()
    }
}

/// The longest duration grantd accepts anywhere (100 years): far beyond any sensible grant,
/// and far from the limits of timestamp arithmetic.
pub const MAX_DURATION_SECONDS: i64 = 100 * 366 * 86_400;

/// `t + seconds`, or `None` when that is not a representable time.
pub fn add_seconds(t: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
    t.checked_add_signed(Duration::try_seconds(seconds)?)
}

/// A duration and whether it was cut down to the policy's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationChoice {
    pub seconds: i64,
    pub clamped: bool,
}

/// The requested duration, else the policy's default, else its max — never above the max.
pub fn choose_duration(requested: Option<i64>, default: Option<i64>, max: i64) -> DurationChoice {
    let wanted = requested.or(default).unwrap_or(max);
    DurationChoice {
        seconds: wanted.min(max),
        clamped: wanted > max,
    }
}

/// An extension's new expiry, capped so the grant's lifetime stays within `max` seconds of
/// `granted_at`. Returns the expiry and whether it was cut.
pub fn cap_lifetime(
    granted_at: DateTime<Utc>,
    wanted: DateTime<Utc>,
    max_seconds: i64,
) -> (DateTime<Utc>, bool) {
    match add_seconds(granted_at, max_seconds) {
        Some(limit) if wanted > limit => (limit, true),
        _ => (wanted, false),
    }
}

/// A grant as its governing policy's (new) maximum leaves it: `expires_at` cut to
/// `granted_at + max_seconds`, with the `grant.update` event that records the cut (by
/// `actor`, at `now`); `None` when the grant already fits. Applied to every active grant of
/// a policy whose maximum is written, in the same transaction, so that no active grant
/// outlives its governing policy's cap.
pub fn cut_to_policy_max(
    g: &Grant,
    max_seconds: i64,
    actor: &crate::domain::audit::Actor,
    now: DateTime<Utc>,
) -> Option<(Grant, crate::domain::audit::NewEvent)> {
    use crate::domain::audit::{EventKind, NewEvent, Subject};
    let (expires_at, cut) = cap_lifetime(g.granted_at, g.expires_at, max_seconds);
    if !cut {
        return None;
    }
    let mut next = g.clone();
    next.expires_at = expires_at;
    next.updated_at = now;
    next.version += 1;
    let event = NewEvent::new(
        now,
        actor.clone(),
        EventKind::GrantUpdate,
        Subject::new("grant", g.id),
    )
    .with_request(serde_json::json!({
        "policy_id": g.policy_id,
        "max_duration_seconds": max_seconds,
        "expires_at": crate::clock::format_ts(&expires_at),
    }));
    Some((next, event))
}

/// The candidates for a grant's governing policy: every policy with a determining permit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRank {
    pub id: Uuid,
    pub priority: i64,
    pub created_at: DateTime<Utc>,
}

/// The highest priority wins; among equals, the oldest (then the smallest id, which for
/// v7 ids is also the oldest).
pub fn governing(candidates: &[PolicyRank]) -> Option<&PolicyRank> {
    candidates.iter().min_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    })
}

/// Scope sets: a grant without scopes covers only a check without scopes.
pub fn scopes_cover(granted: &[String], wanted: &[String]) -> bool {
    if granted.is_empty() {
        return wanted.is_empty();
    }
    wanted.iter().all(|w| granted.contains(w))
}

/// Scopes as stored: trimmed of duplicates, in the order given.
pub fn normalize_scopes(scopes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for s in scopes {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use GrantStatus::*;

    #[test]
    fn status_machine_all_pairs() {
        let legal = [
            (Granted, Extended),
            (Granted, Revoked),
            (Granted, Expired),
            (Extended, Revoked),
            (Extended, Expired),
            (PendingApproval, Granted),
            (PendingApproval, Denied),
            (PendingApproval, ApprovalExpired),
            (PendingApproval, Revoked),
        ];
        for from in GrantStatus::ALL {
            for to in GrantStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
        for s in GrantStatus::ALL {
            assert_eq!(GrantStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(GrantStatus::parse("granted"), None);
    }

    #[test]
    fn effective_status_is_expiry_aware() {
        let now = Utc::now();
        let past = now - Duration::seconds(1);
        let future = now + Duration::seconds(1);
        assert_eq!(effective_status(Granted, past, now), Expired);
        assert_eq!(
            effective_status(Extended, now, now),
            Expired,
            "expires_at <= now"
        );
        assert_eq!(effective_status(Granted, future, now), Granted);
        assert_eq!(effective_status(Revoked, past, now), Revoked);
        assert_eq!(effective_status(Expired, future, now), Expired);
        assert_eq!(
            effective_status(PendingApproval, past, now),
            ApprovalExpired
        );
        assert_eq!(
            effective_status(PendingApproval, future, now),
            PendingApproval
        );
        assert_eq!(effective_status(Denied, past, now), Denied);
    }

    #[test]
    fn duration_choice_and_caps() {
        assert_eq!(
            choose_duration(Some(60), Some(600), 3600),
            DurationChoice {
                seconds: 60,
                clamped: false
            }
        );
        assert_eq!(
            choose_duration(None, Some(600), 3600),
            DurationChoice {
                seconds: 600,
                clamped: false
            }
        );
        assert_eq!(
            choose_duration(None, None, 3600),
            DurationChoice {
                seconds: 3600,
                clamped: false
            }
        );
        assert_eq!(
            choose_duration(Some(7200), Some(600), 3600),
            DurationChoice {
                seconds: 3600,
                clamped: true
            }
        );
        assert_eq!(
            choose_duration(Some(3600), None, 3600),
            DurationChoice {
                seconds: 3600,
                clamped: false
            }
        );
    }

    #[test]
    fn extension_lifetime_cap() {
        let g = Utc::now();
        let (e, c) = cap_lifetime(g, g + Duration::seconds(100), 3600);
        assert_eq!((e, c), (g + Duration::seconds(100), false));
        let (e, c) = cap_lifetime(g, g + Duration::seconds(5000), 3600);
        assert_eq!((e, c), (g + Duration::seconds(3600), true));
        let (e, c) = cap_lifetime(g, g + Duration::seconds(3600), 3600);
        assert_eq!((e, c), (g + Duration::seconds(3600), false));
    }

    #[test]
    fn governing_policy_priority_then_oldest() {
        let t0 = Utc::now();
        let p = |n: u128, priority, secs| PolicyRank {
            id: Uuid::from_u128(n),
            priority,
            created_at: t0 + Duration::seconds(secs),
        };
        assert_eq!(governing(&[]), None);
        let set = [p(1, 1, 0), p(2, 5, 10), p(3, 5, 5), p(4, 2, 0)];
        assert_eq!(
            governing(&set).unwrap().id,
            Uuid::from_u128(3),
            "priority 5, older"
        );
        let tie = [p(9, 5, 0), p(8, 5, 0)];
        assert_eq!(governing(&tie).unwrap().id, Uuid::from_u128(8));
    }

    #[test]
    fn scope_coverage() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(scopes_cover(&s(&["read", "write"]), &s(&["read"])));
        assert!(scopes_cover(&s(&["read"]), &s(&[])));
        assert!(!scopes_cover(&s(&["read"]), &s(&["write"])));
        assert!(scopes_cover(&s(&[]), &s(&[])));
        assert!(
            !scopes_cover(&s(&[]), &s(&["read"])),
            "no scopes covers only no scopes"
        );
        assert_eq!(normalize_scopes(&s(&["a", "b", "a"])), s(&["a", "b"]));
    }
}
