//! Re-evaluation of active grants after a configuration change: the tenant's `on_change`
//! setting, what a re-evaluation found and did, and its progress.

use chrono::{DateTime, Utc};

/// Days a finished (done or superseded) re-evaluation stays readable; the tenant's next
/// configuration write deletes older ones.
pub const KEEP_FINISHED_DAYS: i64 = 30;
use serde::{Deserialize, Serialize};

/// What a committed policy, schema or entity write does to the active grants the new
/// configuration no longer allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnChange {
    /// Nothing.
    None,
    /// Denied grants get `review_required: true` (the default).
    Flag,
    /// As `flag`, and grants beyond their governing policy's maximum are cut to it.
    Clamp,
    /// Denied grants are revoked (`revoked_by: "policy-change"`); grants beyond their
    /// governing policy's maximum are cut to it.
    Revoke,
}

impl OnChange {
    pub const ALL: [OnChange; 4] = [
        OnChange::None,
        OnChange::Flag,
        OnChange::Clamp,
        OnChange::Revoke,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OnChange::None => "none",
            OnChange::Flag => "flag",
            OnChange::Clamp => "clamp",
            OnChange::Revoke => "revoke",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Where a re-evaluation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReevaluationStatus {
    /// Not started.
    Pending,
    /// Part-way: `cursor` names the last grant handled.
    Running,
    /// Every active grant was examined.
    Done,
    /// A later write's re-evaluation took over (it examines every grant again).
    Superseded,
}

impl ReevaluationStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReevaluationStatus::Pending => "pending",
            ReevaluationStatus::Running => "running",
            ReevaluationStatus::Done => "done",
            ReevaluationStatus::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ReevaluationStatus::Pending,
            ReevaluationStatus::Running,
            ReevaluationStatus::Done,
            ReevaluationStatus::Superseded,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn is_open(&self) -> bool {
        matches!(
            self,
            ReevaluationStatus::Pending | ReevaluationStatus::Running
        )
    }
}

/// What a re-evaluation found, grant by grant, so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Found {
    /// Active grants re-decided.
    pub examined: i64,
    /// No longer allowed.
    pub denied: i64,
    /// Allowed, but beyond their governing policy's maximum.
    pub clamped: i64,
    /// Allowed, by another policy than their own.
    pub policy_changed: i64,
}

/// What a re-evaluation did, so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Applied {
    /// Given `review_required: true`.
    pub flagged: i64,
    /// `expires_at` cut to the governing policy's maximum.
    pub clamped: i64,
    pub revoked: i64,
    /// `review_required` cleared: allowed again.
    pub cleared: i64,
    /// Moved to the policy that now governs them (`clamp`, `revoke`): their own no longer
    /// permits them.
    pub moved: i64,
}

impl Applied {
    /// Counts one change of `kind` made.
    pub fn count(&mut self, kind: AppliedKind) {
        match kind {
            AppliedKind::Flagged => self.flagged += 1,
            AppliedKind::Clamped => self.clamped += 1,
            AppliedKind::Revoked => self.revoked += 1,
            AppliedKind::Cleared => self.cleared += 1,
            AppliedKind::Moved => self.moved += 1,
        }
    }
}

/// One re-evaluation: the one a configuration write started, named by the
/// `policy_set_version` that write committed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Reevaluation {
    /// Its id: the `policy_set_version` the write committed (also the write's
    /// `reevaluation_id`).
    pub id: i64,
    pub policy_set_version: i64,
    pub on_change: OnChange,
    pub status: ReevaluationStatus,
    pub found: Found,
    pub applied: Applied,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "crate::clock::ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<DateTime<Utc>>,
    /// The last grant handled (grants are handled in id order); null before the first.
    #[serde(skip)]
    pub cursor: Option<uuid::Uuid>,
    /// Grants behind the cursor that changed under the step that decided them, to be
    /// decided again before anything else (kept with the cursor, so a crash loses none).
    #[serde(skip)]
    pub pending: Vec<uuid::Uuid>,
}

/// What the re-evaluation does to one grant: its next state, the version it replaces, and
/// the event that records it.
#[derive(Debug, Clone)]
pub struct GrantChange {
    pub next: crate::domain::grant::Grant,
    pub expected_version: i64,
    pub event: crate::domain::audit::NewEvent,
    /// Which of the `Applied` counts it adds to.
    pub applied: AppliedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppliedKind {
    Flagged,
    Clamped,
    Revoked,
    Cleared,
    /// Only moved to its new governing policy.
    Moved,
}

/// One step of a re-evaluation, applied in one transaction holding the tenant's write
/// lock: only if the re-evaluation is still open at `expected_cursor` and the tenant still
/// at its version; then each change is made if its grant is still at the version decided
/// on and active, the counts added and the cursor moved to `cursor` (and the
/// re-evaluation closed when `done`).
///
/// Every step records, with the cursor, the grants whose change it could not make (they
/// changed since they were read) as the re-evaluation's `pending` grants; a `retry` step
/// carries those grants decided again (the cursor may have moved on: they are behind it),
/// and moves neither cursor nor status. A step closes the re-evaluation (`done`) only if
/// it leaves nothing pending.
#[derive(Debug, Clone)]
pub struct Step {
    pub retry: bool,
    pub expected_cursor: Option<uuid::Uuid>,
    pub cursor: Option<uuid::Uuid>,
    pub done: bool,
    pub found: Found,
    pub changes: Vec<GrantChange>,
    pub now: DateTime<Utc>,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Applied; these grants changed since they were decided on and were left alone.
    Applied { lost: Vec<uuid::Uuid> },
    /// The re-evaluation is no longer open, or another worker moved its cursor: read it
    /// again.
    Moved,
}
