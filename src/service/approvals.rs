//! Grants that wait for approval: approve, deny, and the approvals waiting for an approver.
//!
//! A policy with `approval` makes the grants it governs PENDING_APPROVAL (see
//! `grants::request`). An approver is the human named by `X-On-Behalf-Of` (a `User` in the
//! entity store) on a requester or admin key. Each approval or denial is decided by Cedar as
//! `Action::"approve"` on the grant's resource with `ApprovalContext` (the requester, the
//! scopes, the approvals so far); an approver who is the grant's user or its requester is
//! asked as `Action::"self_approve"` instead, and counts only when a permit rule that names
//! `self_approve` determines it. Where the policy names `approvers`, only that entity and
//! its members may decide. The required count of distinct approvers activates the grant: its
//! request is decided again on the current policies (a pending grant is not active, so no
//! re-evaluation touched it while it waited), `granted_at` becomes now and its duration,
//! clamped to the governing policy's maximum, runs from there.

use super::grants::{
    audit_denial, check_text, decision_event, denied, evaluate, get, governing_policy,
    grant_context, kept_changing, stale_if_match, stored_uid, MAX_ATTEMPTS,
};
use super::{Caller, Services};
use crate::cedar::engine::{CompiledSet, Evaluation};
use crate::domain::audit::{Determining, EventKind, NewEvent, Subject};
use crate::domain::decision::EntityRef;
use crate::domain::grant::{
    add_seconds, ApprovalRequirement, ApprovalState, ApprovalVote, Grant, GrantStatus,
};
use crate::domain::grant_query::{After, Cond, SortOrder, StatusSet, TimeCol};
use crate::domain::rule::Effect;
use crate::error::{Error, Result};
use crate::store::WriteOutcome;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// Body of `POST /v1/grants/{id}/approve` and `/deny` (optional).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    /// Recorded with the approval or denial (at most 2000 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The answer of approve and deny: the grant after the decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalDecision {
    #[serde(flatten)]
    pub grant: Grant,
    /// Whether this approval activated the grant (the approvals reached the required count).
    pub activated: bool,
    /// Whether the grant's duration was cut to its governing policy's maximum at activation.
    pub clamped: bool,
    /// The rules that determined the approver's decision (`approve` or `self_approve`).
    pub determining: Vec<Determining>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    fn kind(self) -> EventKind {
        match self {
            Verdict::Approve => EventKind::GrantApprove,
            Verdict::Deny => EventKind::GrantDeny,
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Verdict::Approve => "the approval",
            Verdict::Deny => "the denial",
        }
    }
}

/// The approver a request names: `X-On-Behalf-Of`, as a `User`.
fn approver_of(caller: &Caller) -> Result<EntityRef> {
    match caller.on_behalf_of.as_deref() {
        Some(id) if !id.is_empty() => Ok(EntityRef {
            etype: "User".into(),
            id: id.to_string(),
        }),
        _ => Err(Error::invalid(
            "X-On-Behalf-Of: name the approver (the id of a User in the entity store)",
        )),
    }
}

/// Whether `who` may decide at all, before Cedar is asked: it is the requirement's
/// approvers entity or one of its members (every one may, without one).
fn among_approvers(
    set: &CompiledSet,
    approvers: Option<&EntityRef>,
    who: &cedar_policy::EntityUid,
) -> Result<bool> {
    let Some(group) = approvers else {
        return Ok(true);
    };
    let group = super::decisions::uid(group, "approval.approvers")?;
    if *who == group {
        return Ok(true);
    }
    Ok(set
        .entities
        .ancestors(who)
        .is_some_and(|mut a| a.any(|x| *x == group)))
}

/// Whether `approver` is the grant's user or the one who requested it.
fn is_self(g: &Grant, approver: &EntityRef) -> bool {
    (g.principal.etype == approver.etype && g.principal.id == approver.id)
        || g.requested_by.as_deref() == Some(approver.id.as_str())
}

/// The `ApprovalContext` of a decision on `g`.
fn approval_context(g: &Grant) -> Value {
    let a = g.approval.as_ref();
    json!({
        "requester": {"__entity": {"type": g.principal.etype, "id": g.principal.id}},
        "requested_by": g.requested_by.as_deref().unwrap_or(""),
        "scopes": g.scopes,
        "reason": g.reason.as_deref().unwrap_or(""),
        "duration_seconds": a.map_or(0, |a| a.duration_seconds),
        "total_duration_seconds": a.map_or(0, |a| a.duration_seconds),
        "extension_count": 0,
        "approvals": a.map_or(0, |a| a.approvals.len() as i64),
        "required_approvals": a.map_or(0, |a| a.required),
    })
}

/// Cedar's answer for `approver` deciding on `g`, and whether it counts: a self-approval
/// counts only when a determining permit names `self_approve`.
async fn ask(
    set: &Arc<CompiledSet>,
    g: &Grant,
    approver: &EntityRef,
) -> Result<(Evaluation, bool, bool)> {
    let own = is_self(g, approver);
    let act = if own { "self_approve" } else { "approve" };
    let eval = evaluate(set, approver, act, &g.resource, approval_context(g)).await?;
    let explicit = !own
        || eval.determining.iter().any(|r| {
            r.effect == Effect::Permit && r.named_actions.iter().any(|a| a == "self_approve")
        });
    let permitted = eval.allowed && explicit;
    Ok((eval, permitted, own))
}

/// The approval requirement that counts now: that of the policy that governs the grant's
/// request on the current policies, or, where that policy no longer asks for approval (or
/// the request is no longer permitted), the one the grant was requested under.
fn requirement(req: &Evaluation, recorded: &ApprovalState) -> Result<ApprovalRequirement> {
    if req.allowed {
        if let Some(r) = &governing_policy(req)?.approval {
            return Ok(r.clone());
        }
    }
    Ok(ApprovalRequirement {
        approvers: recorded.approvers.clone(),
        count: recorded.required,
        timeout_seconds: 0,
    })
}

/// `POST /v1/grants/{id}/approve` and `/deny`.
pub async fn decide(
    s: &Services,
    caller: &Caller,
    id: &str,
    verdict: Verdict,
    body: ApprovalBody,
    if_match: Option<i64>,
) -> Result<ApprovalDecision> {
    check_text("reason", body.reason.as_deref())?;
    let approver = approver_of(caller)?;
    for _ in 0..MAX_ATTEMPTS {
        let now = s.clock.now();
        let g = get(&s.store, caller.tenant_id, id, now).await?;
        stale_if_match(if_match, &g)?;
        let Some(state) = g.approval.clone() else {
            return Err(Error::Conflict(
                "this grant does not wait for approval (grant_type PREAPPROVED)".into(),
            ));
        };
        if g.status != GrantStatus::PendingApproval {
            return Err(Error::Conflict(format!(
                "only a PENDING_APPROVAL grant can be approved or denied; this one is {}",
                g.status.as_str()
            )));
        }
        if verdict == Verdict::Approve && state.approved_by(&approver.id) {
            return Err(Error::Conflict(format!(
                "{} has already approved this grant; it needs {} distinct approvers",
                approver.id, state.required
            )));
        }
        let set = s.policy_set(caller, None).await?;
        let approver_uid = stored_uid(&set, &approver, "X-On-Behalf-Of")?;
        // The grant's request, decided again on the current policies: they may have
        // changed while it waited (a pending grant is not active, so no re-evaluation
        // touched it). Its governing policy's requirement is the one that counts.
        let ctx = grant_context(
            g.last_decision.as_ref().and_then(|d| d.context.as_ref()),
            Some(state.duration_seconds),
            Some(state.duration_seconds),
            &g.scopes,
            g.reason.as_deref().unwrap_or(""),
            0,
        )?;
        let req = evaluate(&set, &g.principal, "request", &g.resource, ctx).await?;
        let wanted = requirement(&req, &state)?;
        let request = json!({"approver": approver.id, "reason": body.reason});
        if !among_approvers(&set, wanted.approvers.as_ref(), &approver_uid)? {
            let group = wanted.approvers.clone().unwrap_or_else(|| approver.clone());
            let mut e = NewEvent::new(
                now,
                caller.actor(),
                verdict.kind(),
                Subject::new("grant", g.id),
            )
            .with_request(request);
            e.decision = Some("deny".into());
            e.policy_set_version = Some(set.version);
            s.audit.append(caller.tenant_id, e).await?;
            return Err(Error::AccessDenied {
                message: format!(
                    "{} may not decide on this grant: only {}::\"{}\" and its members may",
                    approver.id, group.etype, group.id
                ),
                details: None,
                notices: Vec::new(),
            });
        }
        let (eval, permitted, own) = ask(&set, &g, &approver).await?;
        if !permitted {
            audit_denial(
                s,
                caller,
                verdict.kind(),
                Subject::new("grant", g.id),
                request,
                &eval,
                set.version,
            )
            .await?;
            let mut err = denied(&eval, verdict.noun());
            if own {
                if let Error::AccessDenied { message, .. } = &mut err {
                    *message = format!(
                        "{} was denied: {} is the grant's user or requester, and deciding on \
                         one's own grant needs a permit rule that names the action self_approve",
                        verdict.noun(),
                        approver.id
                    );
                }
            }
            return Err(err);
        }
        // An approval of a request the policies no longer permit could never activate it.
        if verdict == Verdict::Approve && !req.allowed {
            audit_denial(
                s,
                caller,
                verdict.kind(),
                Subject::new("grant", g.id),
                json!({"approver": approver.id, "reason": body.reason,
                       "activation": "the request is no longer permitted"}),
                &req,
                set.version,
            )
            .await?;
            let mut err = denied(&req, "the approval");
            if let Error::AccessDenied { message, .. } = &mut err {
                *message = "the grant's request is no longer permitted by the policies: \
                            approving it cannot activate it"
                    .into();
            }
            return Err(err);
        }
        let mut next = g.clone();
        let mut next_state = state.clone();
        next_state.approvers = wanted.approvers.clone();
        next_state.required = wanted.count;
        next.updated_at = now;
        next.version += 1;
        let mut activated = false;
        let mut clamped = false;
        match verdict {
            Verdict::Deny => {
                next.status = GrantStatus::Denied;
                next_state.denied_by = Some(approver.id.clone());
                next_state.denied_at = Some(now);
                next_state.deny_reason = body.reason.clone();
            }
            Verdict::Approve => {
                next_state.approvals.push(ApprovalVote {
                    approver: approver.id.clone(),
                    at: now,
                    reason: body.reason.clone(),
                });
                // Only approvals of those still among the approvers count.
                let mut counted = 0;
                for v in &next_state.approvals {
                    let who = EntityRef {
                        etype: "User".into(),
                        id: v.approver.clone(),
                    };
                    let still = stored_uid(&set, &who, "approver")
                        .and_then(|uid| among_approvers(&set, wanted.approvers.as_ref(), &uid))
                        .unwrap_or(false);
                    counted += i64::from(still);
                }
                if counted >= wanted.count {
                    let policy = governing_policy(&req)?;
                    let seconds = state.duration_seconds.min(policy.max_duration_seconds);
                    clamped = seconds < state.duration_seconds;
                    next.status = GrantStatus::Granted;
                    next.granted_at = now;
                    next.expires_at = add_seconds(now, seconds)
                        .ok_or_else(|| Error::invalid("duration: too far in the future"))?;
                    next.granted_by = Some(next_state.approvers_text());
                    next.policy_id = policy.id;
                    next.policy_key = policy.key.clone();
                    next.audit_session = req.determining.iter().any(|r| r.audit_session);
                    next.notices = req.notices.clone();
                    activated = true;
                }
            }
        }
        next.approval = Some(next_state);
        let mut event = decision_event(
            NewEvent::new(
                now,
                caller.actor(),
                verdict.kind(),
                Subject::new("grant", g.id),
            )
            .with_request(json!({"approver": approver.id, "reason": body.reason,
                    "self_approval": own, "activated": activated,
                    "request_decision": {"policy_id": next.policy_id,
                        "determining": req.determining_wire()}})),
            &eval,
            set.version,
        );
        if activated {
            // the notices of the activation's request decision follow the approver's
            let mut notices = eval.notices.clone();
            notices.extend(req.notices.iter().cloned());
            event.notices = Some(notices);
        }
        // the deadline may have passed while this was decided
        if s.clock.now() >= g.expires_at {
            return Err(Error::Conflict(
                "the grant's approval deadline passed while this was decided".into(),
            ));
        }
        match s
            .store
            .update_grant(caller.tenant_id, &next, g.version, event, Some(set.version))
            .await?
        {
            WriteOutcome::Done => {
                return Ok(ApprovalDecision {
                    grant: next,
                    activated,
                    clamped,
                    determining: eval.determining_wire(),
                })
            }
            WriteOutcome::StaleRevision => s.policy_sets.invalidate(caller.tenant_id),
            _ => continue,
        }
    }
    Err(kept_changing())
}

/// The query of `GET /v1/approvals`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitingQuery {
    /// At most this many grants (1..=100, default 25).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Continue the walk after this grant (a `next_after` of an earlier answer).
    pub after: Option<String>,
}

/// Pending grants the approver may decide on now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitingPage {
    /// Oldest first.
    pub items: Vec<Grant>,
    /// Where to continue (`?after=`); null when every pending grant was looked at.
    pub next_after: Option<uuid::Uuid>,
}

/// Pending grants looked at by one call at most: a tenant with very many pending grants
/// answers in pages of looked-at grants, not of matches.
const WAITING_SCAN: i64 = 1000;

/// `GET /v1/approvals`: the tenant's PENDING_APPROVAL grants, oldest first, that the
/// approver named by `X-On-Behalf-Of` has not approved yet and may approve now (among the
/// policy's approvers, and permitted by Cedar as `approve`, or `self_approve` explicitly).
pub async fn waiting(s: &Services, caller: &Caller, q: WaitingQuery) -> Result<WaitingPage> {
    let approver = approver_of(caller)?;
    let limit = match q.limit.as_deref() {
        None => 25,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| Error::invalid("limit: an integer 1 to 100"))?,
    };
    let now = s.clock.now();
    let mut after = match q.after.as_deref() {
        None => None,
        Some(id) => {
            let g = get(&s.store, caller.tenant_id, id, now)
                .await
                .map_err(|_| Error::invalid("after: not a grant of this tenant"))?;
            Some(After {
                sort_value: g.created_at,
                id: g.id,
            })
        }
    };
    let set = s.policy_set(caller, None).await?;
    let approver_uid = stored_uid(&set, &approver, "X-On-Behalf-Of")?;
    let conds = [Cond::Status(StatusSet::PENDING_APPROVAL)];
    let sort = SortOrder::new(TimeCol::CreatedAt, false);
    let mut items = Vec::new();
    let mut scanned = 0;
    loop {
        let page = 100.min(WAITING_SCAN - scanned);
        let (grants, _) = s
            .store
            .list_grants(
                caller.tenant_id,
                &conds,
                sort,
                after.as_ref(),
                0,
                page,
                now,
                Some(0),
            )
            .await?;
        scanned += grants.len() as i64;
        let full = grants.len() as i64 == page;
        for g in grants {
            after = Some(After {
                sort_value: g.created_at,
                id: g.id,
            });
            let g = g.at(now);
            if g.status != GrantStatus::PendingApproval
                || g.approval
                    .as_ref()
                    .is_some_and(|a| a.approved_by(&approver.id))
            {
                continue;
            }
            // a grant that cannot be decided (its policy's approvers no longer make sense,
            // the schema lost the approve action) is not waiting for anyone
            let recorded = g.approval.as_ref().and_then(|a| a.approvers.as_ref());
            if !among_approvers(&set, recorded, &approver_uid).unwrap_or(false) {
                continue;
            }
            if ask(&set, &g, &approver).await.is_ok_and(|(_, ok, _)| ok) {
                items.push(g);
                if items.len() as i64 == limit {
                    return Ok(WaitingPage {
                        items,
                        next_after: after.map(|a| a.id),
                    });
                }
            }
        }
        if !full {
            return Ok(WaitingPage {
                items,
                next_after: None,
            });
        }
        if scanned >= WAITING_SCAN {
            return Ok(WaitingPage {
                items,
                next_after: after.map(|a| a.id),
            });
        }
    }
}
