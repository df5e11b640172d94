//! Re-evaluation of active grants after a configuration write commits.
//!
//! Every policy, schema or entity write creates, in its own transaction, a re-evaluation
//! named by the revision it commits (the write's `reevaluation_id`). A background worker
//! ([`run`]) takes open ones oldest first and works through the tenant's active grants in
//! id order, a batch at a time: each grant is re-decided exactly as a change preview does
//! ([`super::changes::redecide`], on a blocking thread), and the tenant's `on_change`
//! setting says what happens to those no longer allowed — flagged (`review_required`),
//! clamped to the governing maximum, or revoked (`revoked_by: "policy-change"`) — each
//! with a `grant.reevaluate` event naming the version. A batch's changes, their events,
//! the move of the re-evaluation's cursor and the grants that changed under the batch
//! (kept as pending, decided again before the next batch) commit in one transaction (see
//! `ReevaluationStore::apply_reevaluation`), so a crash loses at most the batch in flight,
//! which the next run does again, and no grant is handled twice.

use super::changes::{redecide, Standing};
use super::{Caller, Services};
use crate::domain::audit::{Actor, EventKind, NewEvent, Subject};
use crate::domain::grant::{Grant, GrantStatus};
use crate::domain::ids::TenantId;
use crate::domain::reevaluation::{
    AppliedKind, Found, GrantChange, OnChange, Reevaluation, Step, StepOutcome,
};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// Rounds in which a step's grants that changed under it are decided again before they
/// are left.
const LOST_RETRIES: usize = 3;

/// `GET`/`PUT /v1/settings`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// What a committed policy, schema or entity write does to the active grants the new
    /// configuration no longer allows: `none`, `flag` (default: `review_required: true`),
    /// `clamp` (flag, and cut grants beyond their governing policy's maximum to it) or
    /// `revoke` (revoke them, and cut the others likewise).
    pub on_change: OnChange,
}

pub async fn settings(s: &Services, caller: &Caller) -> Result<Settings> {
    Ok(Settings {
        on_change: s.store.on_change(caller.tenant_id).await?,
    })
}

pub async fn put_settings(s: &Services, caller: &Caller, body: Settings) -> Result<Settings> {
    let event = NewEvent::new(
        s.clock.now(),
        caller.actor(),
        EventKind::SettingsUpdate,
        Subject::new("tenant", caller.tenant_id),
    )
    .with_request(json!({"on_change": body.on_change.as_str()}));
    s.store
        .set_on_change(caller.tenant_id, body.on_change, event)
        .await?;
    Ok(body)
}

/// `GET /v1/reevaluations/{id}`.
pub async fn get(s: &Services, caller: &Caller, id: &str) -> Result<Reevaluation> {
    let not_found = || Error::not_found("no such re-evaluation");
    // its canonical decimal form only (`+11` and `011` name nothing)
    let canonical = !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && (id == "0" || !id.starts_with('0'));
    if !canonical {
        return Err(not_found());
    }
    let version: i64 = id.parse().map_err(|_| not_found())?;
    s.store
        .reevaluation(caller.tenant_id, version)
        .await?
        .ok_or_else(not_found)
}

fn actor() -> Actor {
    Actor {
        key_id: "reevaluation".into(),
        role: "system".into(),
        on_behalf_of: None,
    }
}

/// What re-evaluation `version` in mode `mode` does to active grant `g`, given how it
/// stands under that version's set: the found counts it adds to, and the change, if any.
pub fn verdict(
    g: &Grant,
    standing: &Standing,
    mode: OnChange,
    version: i64,
    now: DateTime<Utc>,
) -> (Found, Option<GrantChange>) {
    let mut found = Found {
        examined: 1,
        ..Found::default()
    };
    let mut next = g.clone();
    let (kind, outcome) = match standing {
        Standing::Denied { .. } => {
            found.denied = 1;
            match mode {
                OnChange::None => (None, "denied"),
                OnChange::Flag | OnChange::Clamp if g.review_required => (None, "denied"),
                OnChange::Flag | OnChange::Clamp => {
                    next.review_required = true;
                    (Some(AppliedKind::Flagged), "denied")
                }
                OnChange::Revoke => {
                    next.status = GrantStatus::Revoked;
                    next.revoked_at = Some(now);
                    next.revoked_by = Some("policy-change".into());
                    next.revoke_reason = Some(format!(
                        "policy_set_version {version} no longer allows this grant"
                    ));
                    (Some(AppliedKind::Revoked), "denied")
                }
            }
        }
        Standing::Clamped {
            expires_at,
            policy_id,
            policy_key,
        } => {
            found.clamped = 1;
            match mode {
                OnChange::Clamp | OnChange::Revoke => {
                    // a cap already behind us ends the grant now; the policy whose cap it
                    // is governs it from now on
                    next.expires_at = (*expires_at).max(now);
                    next.policy_id = *policy_id;
                    next.policy_key.clone_from(policy_key);
                    next.review_required = false;
                    (Some(AppliedKind::Clamped), "clamped")
                }
                _ if g.review_required => {
                    next.review_required = false;
                    (Some(AppliedKind::Cleared), "clamped")
                }
                _ => (None, "clamped"),
            }
        }
        Standing::PolicyChanged {
            policy_id,
            policy_key,
        } if matches!(mode, OnChange::Clamp | OnChange::Revoke) => {
            found.policy_changed = 1;
            next.policy_id = *policy_id;
            next.policy_key.clone_from(policy_key);
            next.review_required = false;
            (Some(AppliedKind::Moved), "policy_changed")
        }
        Standing::PolicyChanged { .. } | Standing::Unchanged => {
            if matches!(standing, Standing::PolicyChanged { .. }) {
                found.policy_changed = 1;
            }
            let outcome = standing.outcome().unwrap_or("allowed");
            if g.review_required && mode != OnChange::None {
                next.review_required = false;
                (Some(AppliedKind::Cleared), outcome)
            } else {
                (None, outcome)
            }
        }
    };
    let Some(kind) = kind else {
        return (found, None);
    };
    next.updated_at = now;
    next.version += 1;
    let applied = match kind {
        AppliedKind::Flagged => "flagged",
        AppliedKind::Clamped => "clamped",
        AppliedKind::Revoked => "revoked",
        AppliedKind::Cleared => "cleared",
        AppliedKind::Moved => "moved",
    };
    let mut event = NewEvent::new(
        now,
        actor(),
        EventKind::GrantReevaluate,
        Subject::new("grant", g.id),
    )
    .with_request(json!({
        "reevaluation_id": version, "on_change": mode.as_str(), "outcome": outcome,
        "applied": applied, "expires_at": crate::clock::format_ts(&next.expires_at),
        "policy_id": next.policy_id, "policy_key": next.policy_key,
    }));
    match standing {
        Standing::Denied {
            deny_reason,
            determining,
            notices,
            ..
        } => {
            event.decision = Some("deny".into());
            event.deny_reason = Some(deny_reason.clone());
            event.determining = Some(determining.clone());
            event.notices = Some(notices.clone());
        }
        _ => event.decision = Some("allow".into()),
    }
    event.policy_set_version = Some(version);
    (
        found,
        Some(GrantChange {
            expected_version: g.version,
            next,
            event: event.render(),
            applied: kind,
        }),
    )
}

/// Re-decides `grants` under the tenant's set at `version`, on a blocking thread.
async fn decide(
    set: Arc<crate::cedar::engine::CompiledSet>,
    grants: Vec<Grant>,
    mode: OnChange,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(Found, Vec<GrantChange>)> {
    tokio::task::spawn_blocking(move || {
        crate::cedar::limits::on_cedar_stack(|| {
            let mut found = Found::default();
            let mut changes = Vec::new();
            for g in &grants {
                let (f, c) = verdict(g, &redecide(&set, g, now), mode, version, now);
                found.examined += f.examined;
                found.denied += f.denied;
                found.clamped += f.clamped;
                found.policy_changed += f.policy_changed;
                changes.extend(c);
            }
            (found, changes)
        })
    })
    .await
    .map_err(Error::internal)
}

/// Steps of one re-evaluation the worker takes before it turns to the next open one, so
/// one tenant's large re-evaluation does not hold back every other tenant's.
const STEPS_PER_TURN: usize = 16;

/// Works re-evaluation `version` of `tenant` for up to `turn` steps; whether it is over
/// (done, superseded, gone), or `stop` said so (it resumes at its last step).
pub async fn work(
    s: &Services,
    tenant: TenantId,
    version: i64,
    batch: i64,
    turn: usize,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<bool> {
    // retry rounds of the grants pending now, in this turn
    let mut tries = 0;
    for _ in 0..turn {
        if *stop.borrow() {
            return Ok(true);
        }
        let Some(r) = s.store.reevaluation(tenant, version).await? else {
            return Ok(true);
        };
        if !r.status.is_open() {
            return Ok(true);
        }
        let set = s.policy_sets.at_least(tenant, Some(version)).await?;
        let step = |retry: bool, expected_cursor, cursor, done, found, changes| Step {
            retry,
            expected_cursor,
            cursor,
            done,
            found,
            changes,
            // "still active" is judged when the step commits
            now: s.clock.now(),
        };
        if set.version != version {
            // a later write moved the tenant on: its re-evaluation takes over, and this
            // step marks this one superseded
            let last = step(
                false,
                r.cursor,
                r.cursor,
                false,
                Found::default(),
                Vec::new(),
            );
            s.store.apply_reevaluation(tenant, version, last).await?;
            return Ok(true);
        }
        if !r.pending.is_empty() {
            // Grants that changed between their step's read and its commit (an extension,
            // say): read and decided again, a few times, then left (an empty retry step
            // clears them).
            let changes = if tries < LOST_RETRIES {
                tries += 1;
                let now = s.clock.now();
                let again = s
                    .store
                    .active_grants(
                        tenant,
                        &[crate::domain::grant_query::Cond::Ids(r.pending.clone())],
                        None,
                        r.pending.len() as i64,
                        now,
                    )
                    .await?;
                decide(set.clone(), again, r.on_change, version, now)
                    .await?
                    .1
            } else {
                tracing::warn!(%tenant, version, grants = r.pending.len(),
                    "re-evaluation left grants that kept changing under it");
                tries = 0;
                Vec::new()
            };
            let retry = step(true, r.cursor, r.cursor, false, Found::default(), changes);
            s.store.apply_reevaluation(tenant, version, retry).await?;
            continue;
        }
        tries = 0;
        let now = s.clock.now();
        let page = s
            .store
            .active_grants(tenant, &[], r.cursor, batch, now)
            .await?;
        let last_page = (page.len() as i64) < batch;
        let cursor = page.last().map(|g| g.id).or(r.cursor);
        let (found, changes) = decide(set.clone(), page, r.on_change, version, now).await?;
        // the last page closes it, unless some of its grants changed under it: those are
        // pending, and a later step closes it
        let next = step(false, r.cursor, cursor, last_page, found, changes);
        match s.store.apply_reevaluation(tenant, version, next).await? {
            StepOutcome::Applied { lost } if last_page && lost.is_empty() => return Ok(true),
            _ => continue,
        }
    }
    Ok(false)
}

/// The background worker: every `every`, and when woken, works every open re-evaluation,
/// oldest first, `batch` grants per step, until `stop` says so.
pub async fn run(
    s: Services,
    every: std::time::Duration,
    batch: i64,
    wake: Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let failures = crate::throttle::LogThrottle::new(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = wake.notified() => {}
            _ = stop.changed() => return,
        }
        let open = match s.store.open_reevaluations(64).await {
            Ok(open) => open,
            Err(e) => {
                if let Some(n) = failures.admit() {
                    tracing::warn!(error = ?e, earlier_not_logged = n, "re-evaluations could not be listed");
                }
                continue;
            }
        };
        // Round robin: a turn of a few steps each, until every one is over (or failed,
        // to be tried again at the next tick).
        let mut open = open;
        while !open.is_empty() {
            let mut unfinished = Vec::new();
            for (tenant, version) in open {
                if *stop.borrow() {
                    return;
                }
                match work(&s, tenant, version, batch, STEPS_PER_TURN, &stop).await {
                    Ok(true) => {}
                    Ok(false) => unfinished.push((tenant, version)),
                    Err(e) => {
                        if let Some(n) = failures.admit() {
                            tracing::warn!(error = ?e, %tenant, version, earlier_not_logged = n,
                                "re-evaluation failed; it resumes at its last step");
                        }
                    }
                }
            }
            open = unfinished;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::EntityRef;

    fn grant(flagged: bool) -> Grant {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let r = |t: &str, id: &str| EntityRef {
            etype: t.into(),
            id: id.into(),
        };
        Grant {
            id: uuid::Uuid::now_v7(),
            principal: r("User", "alice"),
            resource: r("App", "github"),
            app: Some("github".into()),
            scopes: vec![],
            status: GrantStatus::Granted,
            grant_type: "PREAPPROVED".into(),
            policy_id: uuid::Uuid::now_v7(),
            policy_key: None,
            requested_by: None,
            granted_by: None,
            reason: None,
            granted_at: t,
            expires_at: t + chrono::Duration::hours(8),
            extension_count: 0,
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            audit_session: false,
            notices: vec![],
            created_at: t,
            updated_at: t,
            version: 3,
            review_required: flagged,
            approval: None,
            last_decision: None,
        }
    }

    fn denied() -> Standing {
        Standing::Denied {
            deny_reason: "forbid".into(),
            determining: vec![],
            notices: vec!["no".into()],
            error: None,
        }
    }

    #[test]
    fn each_mode_does_what_the_table_says_and_only_once() {
        let g = grant(false);
        let now = g.granted_at + chrono::Duration::hours(1);
        let cap = g.granted_at + chrono::Duration::hours(2);
        let clamped = Standing::Clamped {
            policy_id: g.policy_id,
            policy_key: None,
            expires_at: cap,
        };
        let applied = |g: &Grant, s: &Standing, m: OnChange| {
            verdict(g, s, m, 7, now).1.map(|c| {
                assert_eq!(c.expected_version, g.version);
                assert_eq!(c.next.version, g.version + 1);
                assert_eq!(c.event.policy_set_version, Some(7));
                (c.applied, c.next)
            })
        };
        assert!(applied(&g, &denied(), OnChange::None).is_none());
        for m in [OnChange::Flag, OnChange::Clamp] {
            let (k, next) = applied(&g, &denied(), m).unwrap();
            assert_eq!(k, AppliedKind::Flagged);
            assert!(next.review_required && next.status == GrantStatus::Granted);
            // already flagged: nothing again
            assert!(applied(&grant(true), &denied(), m).is_none());
        }
        let (k, next) = applied(&g, &denied(), OnChange::Revoke).unwrap();
        assert_eq!(k, AppliedKind::Revoked);
        assert_eq!(next.status, GrantStatus::Revoked);
        assert_eq!(next.revoked_by.as_deref(), Some("policy-change"));
        assert!(applied(&g, &clamped, OnChange::Flag).is_none());
        for m in [OnChange::Clamp, OnChange::Revoke] {
            let (k, next) = applied(&g, &clamped, m).unwrap();
            assert_eq!(k, AppliedKind::Clamped);
            assert_eq!(next.expires_at, cap);
        }
        // a cap already past ends the grant now, not in the past
        let past = Standing::Clamped {
            policy_id: g.policy_id,
            policy_key: None,
            expires_at: g.granted_at,
        };
        assert_eq!(
            applied(&g, &past, OnChange::Clamp).unwrap().1.expires_at,
            now
        );
        // allowed again: a flag clears (unless the tenant said none), nothing else moves
        let (k, next) = applied(&grant(true), &Standing::Unchanged, OnChange::Flag).unwrap();
        assert_eq!(k, AppliedKind::Cleared);
        assert!(!next.review_required);
        assert!(applied(&grant(true), &Standing::Unchanged, OnChange::None).is_none());
        assert!(applied(&g, &Standing::Unchanged, OnChange::Revoke).is_none());
        // clamp and revoke move a grant its own policy no longer permits to the one that
        // now governs it (a clamp too); flag leaves it
        let to = uuid::Uuid::now_v7();
        let moved = Standing::PolicyChanged {
            policy_id: to,
            policy_key: Some("other".into()),
        };
        assert!(applied(&g, &moved, OnChange::Flag).is_none());
        for m in [OnChange::Clamp, OnChange::Revoke] {
            let (k, next) = applied(&g, &moved, m).unwrap();
            assert_eq!(k, AppliedKind::Moved);
            assert_eq!((next.policy_id, next.expires_at), (to, g.expires_at));
            let cut = Standing::Clamped {
                policy_id: to,
                policy_key: None,
                expires_at: cap,
            };
            assert_eq!(applied(&g, &cut, m).unwrap().1.policy_id, to);
        }
        // every outcome is counted, whatever is done
        let (f, _) = verdict(&g, &denied(), OnChange::None, 7, now);
        assert_eq!((f.examined, f.denied), (1, 1));
    }
}
