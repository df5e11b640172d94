//! The grant lifecycle: request, extend, revoke, update, expire, and the access check.
//! Every request, extension and change is decided by the tenant's compiled set; every
//! mutation is one transaction with its audit event, guarded by the grant's `version`, and a
//! writer that loses a race re-reads and decides again.

use super::decisions::prepare;
use super::{Caller, Services};
use crate::cedar::engine::{CompiledSet, Evaluation, PolicyMeta};
use crate::clock::ts;
use crate::domain::audit::{canonical_json, Actor, Determining, EventKind, NewEvent, Subject};
use crate::domain::decision::EntityRef;
use crate::domain::grant::{
    add_seconds, cap_lifetime, choose_duration, governing, normalize_scopes, scopes_cover,
    ApprovalState, Grant, GrantStatus, LastDecision, PolicyRank, MAX_DURATION_SECONDS,
};
use crate::domain::ids::TenantId;
use crate::domain::policy::PolicyRef;
use crate::domain::role::Role;
use crate::error::{Error, Result};
use crate::store::{DynStore, IdempotencyRecord, InsertOutcome, WriteOutcome};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use uuid::Uuid;

/// The `GrantContext` fields grantd fills in; callers' extra context may not name them.
pub const GRANT_CONTEXT_FIELDS: [&str; 5] = [
    "duration_seconds",
    "total_duration_seconds",
    "scopes",
    "reason",
    "extension_count",
];
pub(super) const MAX_ATTEMPTS: usize = 16;
pub const MAX_SCOPES: usize = 100;
pub const MAX_TEXT: usize = 2000;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub principal: EntityRef,
    pub resource: EntityRef,
    /// Default: the governing policy's default, else its max; never above its max.
    #[serde(default)]
    pub duration_seconds: Option<i64>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Extra context keys (declared by the schema; not a `GrantContext` field).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// Decide on this policy-set version or a newer one (a consistency token: the
    /// `policy_set_version` a write answered with; also `X-Min-Policy-Set-Version`, the
    /// larger of the two wins). `503 stale` if the tenant's set does not reach it within a
    /// second. Not part of the request recorded or fingerprinted.
    #[serde(default, skip_serializing)]
    pub min_policy_set_version: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// The new expiry is now + this (> 0).
    #[serde(default)]
    pub duration_seconds: Option<i64>,
    /// Or the new expiry itself (after now).
    #[serde(default, with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// Decide on this policy-set version or a newer one (a consistency token: the
    /// `policy_set_version` a write answered with; also `X-Min-Policy-Set-Version`, the
    /// larger of the two wins). `503 stale` if the tenant's set does not reach it within a
    /// second. Not part of the request recorded or fingerprinted.
    #[serde(default, skip_serializing)]
    pub min_policy_set_version: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// `REVOKED` (as the revoke endpoint); `EXTENDED` and `EXPIRED` are admin-only.
    #[serde(default)]
    pub status: Option<GrantStatus>,
    /// Admin-only: move the grant to another policy (re-evaluated).
    #[serde(default)]
    pub policy_id: Option<String>,
    #[serde(default)]
    pub policy_key: Option<String>,
    /// Admin-only.
    #[serde(default)]
    pub granted_by: Option<String>,
    /// Admin-only; not after now (it may be before `created_at`: a grant recorded after it
    /// was given); `expires_at` stays.
    #[serde(default, with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub granted_at: Option<DateTime<Utc>>,
    /// Shortens the grant (any role that may write grants): after now and earlier than the
    /// current `expires_at`; no re-decision. Extending is `POST /v1/grants/{id}/extend`.
    #[serde(default, with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Replaces the scopes (re-evaluated as `Action::"request"`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Accepted only when equal to the grant's resource.
    #[serde(default)]
    pub resource: Option<EntityRef>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// Decide on this policy-set version or a newer one (a consistency token: the
    /// `policy_set_version` a write answered with; also `X-Min-Policy-Set-Version`, the
    /// larger of the two wins). `503 stale` if the tenant's set does not reach it within a
    /// second. Not part of the request recorded or fingerprinted.
    #[serde(default, skip_serializing)]
    pub min_policy_set_version: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessCheckBody {
    pub principal: EntityRef,
    pub resource: EntityRef,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Decide on this policy-set version or a newer one (a consistency token: the
    /// `policy_set_version` a write answered with; also `X-Min-Policy-Set-Version`, the
    /// larger of the two wins). `503 stale` if the tenant's set does not reach it within a
    /// second. Not part of the request recorded or fingerprinted.
    #[serde(default, skip_serializing)]
    pub min_policy_set_version: Option<i64>,
}

/// A grant with the decision that made or changed it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantDecision {
    #[serde(flatten)]
    pub grant: Grant,
    /// Whether the duration (or the lifetime, on extend) was cut to the policy's maximum.
    pub clamped: bool,
    pub requested_duration_seconds: Option<i64>,
    pub determining: Vec<Determining>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccessCheckResult {
    pub allowed: bool,
    pub grant_id: Option<Uuid>,
    #[serde(with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A grant request's answer: new, or the replay of an earlier answer to the same
/// `Idempotency-Key`.
pub enum RequestOutcome {
    Created(Box<GrantDecision>),
    Replay { status: u16, body: String },
}

pub(super) fn check_text(field: &str, v: Option<&str>) -> Result<()> {
    match v {
        Some(s) if s.chars().count() > MAX_TEXT => Err(Error::invalid(format!(
            "{field}: at most {MAX_TEXT} characters"
        ))),
        _ => Ok(()),
    }
}

fn check_duration(d: Option<i64>) -> Result<()> {
    match d {
        Some(d) if d <= 0 => Err(Error::invalid("duration_seconds: must be greater than 0")),
        Some(d) if d > MAX_DURATION_SECONDS => Err(Error::invalid(format!(
            "duration_seconds: at most {MAX_DURATION_SECONDS} (100 years)"
        ))),
        _ => Ok(()),
    }
}

fn check_scopes(scopes: &[String]) -> Result<Vec<String>> {
    if scopes.len() > MAX_SCOPES {
        return Err(Error::invalid(format!("scopes: at most {MAX_SCOPES}")));
    }
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.chars().count() > 200)
    {
        return Err(Error::invalid("scopes: each must be 1 to 200 characters"));
    }
    Ok(normalize_scopes(scopes))
}

/// The context of a grant evaluation: the caller's declared extra keys plus `GrantContext`.
pub fn grant_context(
    extra: Option<&Value>,
    duration: Option<i64>,
    total: Option<i64>,
    scopes: &[String],
    reason: &str,
    extension_count: i64,
) -> Result<Value> {
    let mut ctx = match extra {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(Error::invalid("context: must be a JSON object")),
    };
    for f in GRANT_CONTEXT_FIELDS {
        if ctx.contains_key(f) {
            return Err(Error::invalid(format!(
                "context.{f}: grantd fills in this GrantContext field; send it as a top-level field or not at all"
            )));
        }
    }
    if let Some(d) = duration {
        ctx.insert("duration_seconds".into(), json!(d));
    }
    if let Some(t) = total {
        ctx.insert("total_duration_seconds".into(), json!(t));
    }
    ctx.insert("scopes".into(), json!(scopes));
    ctx.insert("reason".into(), json!(reason));
    ctx.insert("extension_count".into(), json!(extension_count));
    Ok(Value::Object(ctx))
}

fn action(id: &str) -> EntityRef {
    EntityRef {
        etype: "Action".into(),
        id: id.into(),
    }
}

pub(super) fn stored_uid(
    set: &CompiledSet,
    r: &EntityRef,
    field: &str,
) -> Result<cedar_policy::EntityUid> {
    let uid = super::decisions::uid(r, field)?;
    if set.entities.get(&uid).is_none() {
        return Err(Error::invalid(format!(
            "{field}: {uid} is not in the entity store (PUT /v1/entities first)"
        )));
    }
    Ok(uid)
}

/// The resource if it is an `App`, else its nearest `App` ancestor (by id when several).
fn app_of(set: &CompiledSet, resource: &cedar_policy::EntityUid) -> Option<String> {
    if resource.type_name().to_string() == "App" {
        return Some(resource.id().unescaped().to_string());
    }
    let apps: BTreeSet<String> = set
        .entities
        .ancestors(resource)?
        .filter(|a| a.type_name().to_string() == "App")
        .map(|a| a.id().unescaped().to_string())
        .collect();
    apps.into_iter().next()
}

/// [`evaluate_now`], on a blocking thread when the set is costly (see
/// `CompiledSet::costly`), so no request worker spends long on one decision.
pub(super) async fn evaluate(
    set: &Arc<CompiledSet>,
    principal: &EntityRef,
    action_id: &str,
    resource: &EntityRef,
    ctx: Value,
) -> Result<Evaluation> {
    if !set.costly {
        return evaluate_now(set, principal, action_id, resource, ctx);
    }
    let (set, principal, action_id, resource) = (
        set.clone(),
        principal.clone(),
        action_id.to_string(),
        resource.clone(),
    );
    tokio::task::spawn_blocking(move || evaluate_now(&set, &principal, &action_id, &resource, ctx))
        .await
        .map_err(Error::internal)?
}

fn evaluate_now(
    set: &CompiledSet,
    principal: &EntityRef,
    action_id: &str,
    resource: &EntityRef,
    ctx: Value,
) -> Result<Evaluation> {
    let started = std::time::Instant::now();
    let prepared = prepare(
        set,
        principal,
        &action(action_id),
        resource,
        Some(&ctx),
        None,
        "",
    )?;
    let eval = set.evaluate(&prepared.request, &prepared.entities);
    metrics::histogram!("grantd_decision_evaluation_seconds")
        .record(started.elapsed().as_secs_f64());
    Ok(eval)
}

/// The governing policy of a permitted evaluation.
pub(super) fn governing_policy(eval: &Evaluation) -> Result<Arc<PolicyMeta>> {
    let permits: Vec<&Arc<PolicyMeta>> = eval
        .determining
        .iter()
        .filter(|r| r.effect == crate::domain::rule::Effect::Permit)
        .map(|r| &r.policy)
        .collect();
    let ranks: Vec<PolicyRank> = permits
        .iter()
        .map(|p| PolicyRank {
            id: p.id,
            priority: p.priority,
            created_at: p.created_at,
        })
        .collect();
    let chosen = governing(&ranks)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("an allow without a determining permit")))?;
    Ok(permits
        .into_iter()
        .find(|p| p.id == chosen.id)
        .expect("the chosen policy is a candidate")
        .clone())
}

pub(super) fn denied(eval: &Evaluation, what: &str) -> Error {
    Error::AccessDenied {
        message: format!("{what} was denied by the policies"),
        details: Some(json!({
            "determining": eval.determining_wire(),
            "deny_reason": eval.deny_reason.map(|d| d.as_str()),
        })),
        notices: eval.notices.clone(),
    }
}

pub(super) fn decision_event(mut e: NewEvent, eval: &Evaluation, version: i64) -> NewEvent {
    e.decision = Some(if eval.allowed { "allow" } else { "deny" }.into());
    e.deny_reason = eval.deny_reason.map(|d| d.as_str().to_string());
    e.determining = Some(eval.determining_wire());
    e.notices = Some(eval.notices.clone());
    e.policy_set_version = Some(version);
    e
}

/// Records a denied request, extension or change; durable before the 403 leaves.
pub(super) async fn audit_denial(
    s: &Services,
    caller: &Caller,
    kind: EventKind,
    subject: Subject,
    request: Value,
    eval: &Evaluation,
    version: i64,
) -> Result<()> {
    let e = denial_event(s, caller, kind, subject, request, eval, version);
    s.audit.append(caller.tenant_id, e).await?;
    Ok(())
}

/// The audit event of a denied decision (see [`audit_denial`]).
fn denial_event(
    s: &Services,
    caller: &Caller,
    kind: EventKind,
    subject: Subject,
    request: Value,
    eval: &Evaluation,
    version: i64,
) -> NewEvent {
    let e = NewEvent::new(s.clock.now(), caller.actor(), kind, subject).with_request(request);
    decision_event(e, eval, version)
}

fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_seconds()
}

pub fn body_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(body).as_bytes()))
}

fn replay(record: IdempotencyRecord, hash: &str) -> Result<RequestOutcome> {
    if record.body_hash != hash {
        return Err(Error::Conflict(
            "this Idempotency-Key was used with another request body".into(),
        ));
    }
    Ok(RequestOutcome::Replay {
        status: record.status,
        body: record.response,
    })
}

/// `POST /v1/grants`.
pub async fn request(
    s: &Services,
    caller: &Caller,
    body: RequestBody,
    idempotency_key: Option<String>,
) -> Result<RequestOutcome> {
    let now = s.clock.now();
    let raw = serde_json::to_value(&body).map_err(Error::internal)?;
    // Only an idempotent request needs its body's fingerprint.
    let hash = idempotency_key
        .as_ref()
        .map(|_| body_hash(&raw))
        .unwrap_or_default();
    let key = idempotency_key.as_deref();
    if let Some(k) = key {
        if k.is_empty() || k.len() > 255 {
            return Err(Error::invalid("Idempotency-Key: 1 to 255 characters"));
        }
    }
    // The key's stored record is not read up front: a request that creates a grant finds
    // it in the insert's own transaction (which replays it), a denial reads it before it
    // is audited, and a request refused before its decision reads it here. So a retry of
    // an answered request gets its first answer even where it would now be refused (an
    // entity since deleted, a policy since changed), and a new request costs no extra read.
    match decide_request(s, caller, &body, &raw, key, &hash, now).await {
        Ok(answer) => answer,
        Err(e) => match key {
            Some(k) => match stored_request(s, caller, k, now).await {
                Ok(Some(r)) => replay(r, &hash),
                _ => Err(e),
            },
            None => Err(e),
        },
    }
}

/// The record a grant request's idempotency key holds, if any.
async fn stored_request(
    s: &Services,
    caller: &Caller,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<IdempotencyRecord>> {
    s.store
        .get_idempotency(caller.key_id, key, now - crate::store::IDEMPOTENCY_WINDOW)
        .await
}

/// The decision and the write of `POST /v1/grants`: the answer, or (as `Err`) an error
/// met before anything was decided or written, which a stored answer of the same key
/// replaces.
async fn decide_request(
    s: &Services,
    caller: &Caller,
    body: &RequestBody,
    raw: &serde_json::Value,
    idempotency_key: Option<&str>,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Result<RequestOutcome>> {
    check_duration(body.duration_seconds)?;
    check_text("reason", body.reason.as_deref())?;
    let scopes = check_scopes(body.scopes.as_deref().unwrap_or_default())?;
    let reason = body.reason.clone().unwrap_or_default();
    for _ in 0..MAX_ATTEMPTS {
        let set = s.policy_set(caller, body.min_policy_set_version).await?;
        stored_uid(&set, &body.principal, "principal")?;
        let resource_uid = stored_uid(&set, &body.resource, "resource")?;
        let ctx = grant_context(
            body.context.as_ref(),
            body.duration_seconds,
            body.duration_seconds,
            &scopes,
            &reason,
            0,
        )?;
        let eval = evaluate(&set, &body.principal, "request", &body.resource, ctx).await?;
        if !eval.allowed {
            // a retry of an answered request replays its answer; no new denial is audited
            if let Some(k) = idempotency_key {
                if let Some(r) = stored_request(s, caller, k, now).await? {
                    return Ok(replay(r, hash));
                }
            }
            let principal = super::decisions::uid(&body.principal, "principal")?;
            let subject = Subject::new("principal", principal);
            let err = denied(&eval, "the grant request");
            let Some(k) = idempotency_key else {
                audit_denial(
                    s,
                    caller,
                    EventKind::GrantRequest,
                    subject,
                    raw.clone(),
                    &eval,
                    set.version,
                )
                .await?;
                return Ok(Err(err));
            };
            // The denial and its stored answer commit together: a request with the same
            // key answered first (on another instance, between the read above and now)
            // wins, and this denial is neither stored nor audited, as its caller is
            // answered with the first answer.
            let record = IdempotencyRecord {
                key_id: caller.key_id,
                idem_key: k.to_string(),
                body_hash: hash.to_string(),
                status: 403,
                response: serde_json::to_string(&err.body()).map_err(Error::internal)?,
                created_at: now,
            };
            let event = denial_event(
                s,
                caller,
                EventKind::GrantRequest,
                subject,
                raw.clone(),
                &eval,
                set.version,
            );
            return match s
                .store
                .put_idempotency(caller.tenant_id, &record, event)
                .await?
            {
                InsertOutcome::Replay(r) => Ok(replay(r, hash)),
                // stored (`Stale` is an answer of grant inserts only)
                InsertOutcome::Done | InsertOutcome::Stale => Ok(Err(err)),
            };
        }
        let policy = governing_policy(&eval)?;
        let d = choose_duration(
            body.duration_seconds,
            policy.default_duration_seconds,
            policy.max_duration_seconds,
        );
        let expires_at = add_seconds(now, d.seconds)
            .ok_or_else(|| Error::invalid("duration_seconds: too far in the future"))?;
        // A policy that asks for approval: the grant waits, with its approval deadline as
        // its expires_at, and gets its duration when its approvers activate it.
        let approval = policy.approval.as_ref().map(|a| ApprovalState {
            approvers: a.approvers.clone(),
            required: a.count,
            deadline: now + Duration::seconds(a.timeout_seconds),
            duration_seconds: d.seconds,
            approvals: Vec::new(),
            denied_by: None,
            denied_at: None,
            deny_reason: None,
        });
        let grant = Grant {
            id: Uuid::now_v7(),
            principal: body.principal.clone(),
            resource: body.resource.clone(),
            app: app_of(&set, &resource_uid),
            scopes: scopes.clone(),
            status: if approval.is_some() {
                GrantStatus::PendingApproval
            } else {
                GrantStatus::Granted
            },
            grant_type: String::new(),
            policy_id: policy.id,
            policy_key: policy.key.clone(),
            requested_by: caller.on_behalf_of.clone(),
            granted_by: None,
            reason: body.reason.clone(),
            granted_at: now,
            expires_at: approval.as_ref().map_or(expires_at, |a| a.deadline),
            extension_count: 0,
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            audit_session: eval.determining.iter().any(|r| r.audit_session),
            notices: eval.notices.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
            review_required: false,
            approval,
            last_decision: Some(LastDecision {
                action: "request".into(),
                context: body.context.clone(),
            }),
        }
        .typed();
        let answer = GrantDecision {
            grant,
            clamped: d.clamped,
            requested_duration_seconds: body.duration_seconds,
            determining: eval.determining_wire(),
        };
        let event = decision_event(
            NewEvent::new(
                now,
                caller.actor(),
                EventKind::GrantRequest,
                Subject::new("grant", answer.grant.id),
            )
            .with_request(raw.clone()),
            &eval,
            set.version,
        );
        let record = match idempotency_key {
            Some(k) => Some(IdempotencyRecord {
                key_id: caller.key_id,
                idem_key: k.to_string(),
                body_hash: hash.to_string(),
                status: 201,
                response: serde_json::to_string(&answer).map_err(Error::internal)?,
                created_at: now,
            }),
            None => None,
        };
        match s
            .store
            .insert_grant(caller.tenant_id, &answer.grant, event, record, set.version)
            .await?
        {
            InsertOutcome::Done => return Ok(Ok(RequestOutcome::Created(Box::new(answer)))),
            InsertOutcome::Replay(r) => return Ok(replay(r, hash)),
            // The configuration moved under the decision: decide again with the new set.
            // (A write by another process may not have reached the cache yet: drop it.)
            InsertOutcome::Stale => s.policy_sets.invalidate(caller.tenant_id),
        }
    }
    Err(kept_changing())
}

pub async fn get(
    store: &DynStore,
    tenant: TenantId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Grant> {
    let id = Uuid::try_parse(id).map_err(|_| Error::not_found("no such grant"))?;
    Ok(store
        .get_grant(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("no such grant"))?
        .at(now))
}

pub(super) fn stale_if_match(if_match: Option<i64>, g: &Grant) -> Result<()> {
    match if_match {
        Some(v) if v != g.version => Err(Error::Conflict(format!(
            "If-Match {v} is stale: the grant is at version {}",
            g.version
        ))),
        _ => Ok(()),
    }
}

/// A write that lost the race to other writers every time it tried.
pub(super) fn kept_changing() -> Error {
    Error::Conflict("the grant kept changing while this change was decided; retry".into())
}

fn not_active(g: &Grant, what: &str) -> Error {
    Error::Conflict(format!(
        "only an active grant (GRANTED or EXTENDED) can be {what}; this one is {}",
        g.status.as_str()
    ))
}

/// A change that would give a grant more than its governing policy's approvers approved.
fn needs_approval(policy: &PolicyMeta, what: &str) -> Error {
    Error::Conflict(format!(
        "the grant's governing policy {} requires approval: a grant it governs cannot be {what} \
         without it; request a new grant",
        policy.key.clone().unwrap_or_else(|| policy.id.to_string())
    ))
}

/// `POST /v1/grants/{id}/extend`.
pub async fn extend(
    s: &Services,
    caller: &Caller,
    id: &str,
    body: ExtendBody,
    if_match: Option<i64>,
) -> Result<GrantDecision> {
    let (wanted_duration, wanted_at) = (body.duration_seconds, body.expires_at);
    match (wanted_duration, wanted_at) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(Error::invalid(
                "give exactly one of duration_seconds and expires_at",
            ))
        }
        _ => check_duration(wanted_duration)?,
    }
    for _ in 0..MAX_ATTEMPTS {
        let now = s.clock.now();
        let g = get(&s.store, caller.tenant_id, id, now).await?;
        stale_if_match(if_match, &g)?;
        if !g.status.is_active() {
            return Err(not_active(&g, "extended"));
        }
        let new_expiry = match (wanted_duration, wanted_at) {
            (Some(d), _) => add_seconds(now, d)
                .ok_or_else(|| Error::invalid("duration_seconds: too far in the future"))?,
            (_, Some(at)) if at > now => at,
            _ => return Err(Error::invalid("expires_at: must be after now")),
        };
        if new_expiry < g.expires_at {
            return Err(Error::invalid(format!(
                "an extension never shortens a grant: the new expiry {} is before the current \
                 expires_at {}; to shorten it, PUT /v1/grants/{} with an earlier expires_at",
                crate::clock::format_ts(&new_expiry),
                crate::clock::format_ts(&g.expires_at),
                g.id
            )));
        }
        let set = s.policy_set(caller, body.min_policy_set_version).await?;
        let requested = seconds_between(now, new_expiry);
        let ctx = grant_context(
            body.context.as_ref(),
            Some(requested),
            Some(seconds_between(g.granted_at, new_expiry)),
            &g.scopes,
            g.reason.as_deref().unwrap_or(""),
            g.extension_count,
        )?;
        let eval = evaluate(&set, &g.principal, "extend", &g.resource, ctx).await?;
        // With the grant as it was decided, so the decision can be replayed from its event
        // alone (a change preview).
        let raw = json!({"duration_seconds": wanted_duration,
            "expires_at": wanted_at.map(|t| crate::clock::format_ts(&t)), "context": body.context,
            "grant": {"principal": g.principal, "resource": g.resource, "scopes": g.scopes,
                "reason": g.reason, "granted_at": crate::clock::format_ts(&g.granted_at),
                "extension_count": g.extension_count}});
        if !eval.allowed {
            audit_denial(
                s,
                caller,
                EventKind::GrantExtend,
                Subject::new("grant", g.id),
                raw,
                &eval,
                set.version,
            )
            .await?;
            return Err(denied(&eval, "the extension"));
        }
        let policy = governing_policy(&eval)?;
        // What its approvers approved is the grant's lifetime: more needs their approval
        // again, as a new request.
        if policy.approval.is_some() {
            return Err(needs_approval(&policy, "extended"));
        }
        let (expires_at, clamped) =
            cap_lifetime(g.granted_at, new_expiry, policy.max_duration_seconds);
        if expires_at <= now || expires_at < g.expires_at {
            return Err(Error::Conflict(format!(
                "the grant's lifetime under the extension's governing policy ({} s from \
                 granted_at) ends before its current expiry: an extension cannot lengthen it",
                policy.max_duration_seconds
            )));
        }
        let mut next = g.clone();
        next.expires_at = expires_at;
        next.status = GrantStatus::Extended;
        next.extension_count += 1;
        next.policy_id = policy.id;
        next.policy_key = policy.key.clone();
        next.audit_session = eval.determining.iter().any(|r| r.audit_session);
        next.notices = eval.notices.clone();
        next.updated_at = now;
        next.version += 1;
        next.review_required = false;
        next.last_decision = Some(LastDecision {
            action: "extend".into(),
            context: body.context.clone(),
        });
        let event = decision_event(
            NewEvent::new(
                now,
                caller.actor(),
                EventKind::GrantExtend,
                Subject::new("grant", g.id),
            )
            .with_request(raw),
            &eval,
            set.version,
        );
        match s
            .store
            .update_grant(caller.tenant_id, &next, g.version, event, Some(set.version))
            .await?
        {
            WriteOutcome::Done => {
                return Ok(GrantDecision {
                    grant: next,
                    clamped,
                    requested_duration_seconds: Some(requested),
                    determining: eval.determining_wire(),
                })
            }
            // The configuration moved under the decision (perhaps by another process,
            // which the cache has not heard of yet): drop the cached set and decide again.
            WriteOutcome::StaleRevision => s.policy_sets.invalidate(caller.tenant_id),
            // Lost a race: read again and decide again (If-Match turns it into a 409).
            _ => continue,
        }
    }
    Err(kept_changing())
}

pub(super) fn revoked(
    g: &Grant,
    caller: &Caller,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Grant {
    let mut next = g.clone();
    next.status = GrantStatus::Revoked;
    next.revoked_at = Some(now);
    next.revoked_by = Some(caller.key_id.to_string());
    next.revoke_reason = reason;
    next.updated_at = now;
    next.version += 1;
    next
}

/// `POST /v1/grants/{id}/revoke` (and `PUT` with `status: REVOKED`).
pub async fn revoke(
    s: &Services,
    caller: &Caller,
    id: &str,
    reason: Option<String>,
    if_match: Option<i64>,
) -> Result<Grant> {
    check_text("reason", reason.as_deref())?;
    for _ in 0..MAX_ATTEMPTS {
        let now = s.clock.now();
        let g = get(&s.store, caller.tenant_id, id, now).await?;
        stale_if_match(if_match, &g)?;
        // (a pending grant may be withdrawn too)
        if !g.status.is_active() && !g.status.is_pending() {
            return Err(not_active(&g, "revoked"));
        }
        let next = revoked(&g, caller, reason.clone(), now);
        let event = NewEvent::new(
            now,
            caller.actor(),
            EventKind::GrantRevoke,
            Subject::new("grant", g.id),
        )
        .with_request(json!({"reason": reason}));
        if s.store
            .update_grant(caller.tenant_id, &next, g.version, event, None)
            .await?
            == WriteOutcome::Done
        {
            return Ok(next);
        }
    }
    Err(kept_changing())
}

/// The answer of `PUT /v1/grants/{id}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Updated {
    #[serde(flatten)]
    pub grant: Grant,
    /// Whether the lifetime was cut to the new governing policy's maximum (after a scope
    /// change or a policy move).
    pub clamped: bool,
}

/// `PUT /v1/grants/{id}`.
pub async fn update(
    s: &Services,
    caller: &Caller,
    id: &str,
    body: UpdateBody,
    if_match: Option<i64>,
) -> Result<Updated> {
    // The role is checked before the state.
    let admin_only = matches!(
        body.status,
        Some(GrantStatus::Extended | GrantStatus::Expired)
    ) || body.granted_by.is_some()
        || body.granted_at.is_some()
        || body.policy_id.is_some()
        || body.policy_key.is_some();
    if admin_only && caller.role != Role::Admin {
        return Err(Error::Forbidden(
            "status EXTENDED/EXPIRED, granted_by, granted_at and the policy may be changed by admin keys only".into(),
        ));
    }
    if body.policy_id.is_some() && body.policy_key.is_some() {
        return Err(Error::invalid("give policy_id or policy_key, not both"));
    }
    check_text("granted_by", body.granted_by.as_deref())?;
    let scopes = body.scopes.as_deref().map(check_scopes).transpose()?;
    if body.granted_at.is_some_and(|at| at > s.clock.now()) {
        return Err(Error::invalid("granted_at: must not be after now"));
    }
    if body.status == Some(GrantStatus::Revoked) {
        if scopes.is_some() || admin_only || body.context.is_some() || body.expires_at.is_some() {
            return Err(Error::invalid(
                "status REVOKED revokes the grant; send other changes separately",
            ));
        }
        if let Some(r) = &body.resource {
            let g = get(&s.store, caller.tenant_id, id, s.clock.now()).await?;
            if *r != g.resource {
                return Err(Error::invalid("resource: a grant's resource cannot change"));
            }
        }
        return revoke(s, caller, id, None, if_match)
            .await
            .map(|grant| Updated {
                grant,
                clamped: false,
            });
    }
    if body.status == Some(GrantStatus::Granted) {
        return Err(Error::Conflict("a grant cannot return to GRANTED".into()));
    }
    if body.status == Some(GrantStatus::Expired) && body.expires_at.is_some() {
        return Err(Error::invalid(
            "status EXPIRED sets expires_at to now; send one of them",
        ));
    }
    for _ in 0..MAX_ATTEMPTS {
        let now = s.clock.now();
        let g = get(&s.store, caller.tenant_id, id, now).await?;
        stale_if_match(if_match, &g)?;
        if body.resource.as_ref().is_some_and(|r| *r != g.resource) {
            return Err(Error::invalid("resource: a grant's resource cannot change"));
        }
        if !g.status.is_active() {
            return Err(not_active(&g, "changed"));
        }
        if let Some(at) = body.expires_at {
            if at <= now {
                return Err(Error::invalid("expires_at: must be after now"));
            }
            if at >= g.expires_at {
                return Err(Error::invalid(format!(
                    "expires_at: PUT only shortens a grant (earlier than its expires_at {}); \
                     to extend it, POST /v1/grants/{}/extend",
                    crate::clock::format_ts(&g.expires_at),
                    g.id
                )));
            }
        }
        let mut next = g.clone();
        let mut decision: Option<(Evaluation, i64, i64)> = None;
        let mut clamped = false;
        if let Some(at) = body.expires_at {
            next.expires_at = at;
        }
        // The lifetime a re-decision is asked about: the grant's real one after this change.
        let granted_at = body.granted_at.unwrap_or(g.granted_at);
        if let Some(to) = body.status {
            if !g.status.can_become(to) {
                return Err(Error::Conflict(format!(
                    "a {} grant cannot become {}",
                    g.status.as_str(),
                    to.as_str()
                )));
            }
            next.status = to;
            if to == GrantStatus::Expired {
                next.expires_at = now;
            }
        }
        if let Some(by) = &body.granted_by {
            next.granted_by = Some(by.clone());
        }
        let new_policy = match (&body.policy_id, &body.policy_key) {
            (Some(p), None) | (None, Some(p)) => {
                let r = PolicyRef::parse(p);
                Some(
                    s.store
                        .get_policy(caller.tenant_id, &r)
                        .await?
                        .ok_or_else(|| Error::invalid(format!("policy {p:?}: no such policy")))?,
                )
            }
            _ => None,
        };
        if scopes.is_some() || new_policy.is_some() {
            let set = s.policy_set(caller, body.min_policy_set_version).await?;
            let new_scopes = scopes.clone().unwrap_or_else(|| g.scopes.clone());
            let ctx = grant_context(
                body.context.as_ref(),
                Some(seconds_between(now, next.expires_at)),
                Some(seconds_between(granted_at, next.expires_at)),
                &new_scopes,
                g.reason.as_deref().unwrap_or(""),
                g.extension_count,
            )?;
            let eval = evaluate(&set, &g.principal, "request", &g.resource, ctx).await?;
            let raw = json!({"scopes": body.scopes, "policy_id": body.policy_id,
                "policy_key": body.policy_key, "context": body.context,
                "expires_at": body.expires_at.map(|t| crate::clock::format_ts(&t))});
            let target_permits = |pid: Uuid| {
                eval.determining
                    .iter()
                    .any(|r| r.policy.id == pid && r.effect == crate::domain::rule::Effect::Permit)
            };
            let refused = !eval.allowed
                || new_policy
                    .as_ref()
                    .is_some_and(|p| !p.enabled || !target_permits(p.id));
            if refused {
                audit_denial(
                    s,
                    caller,
                    EventKind::GrantUpdate,
                    Subject::new("grant", g.id),
                    raw,
                    &eval,
                    set.version,
                )
                .await?;
                let mut err = denied(&eval, "the change");
                if eval.allowed {
                    if let Error::AccessDenied { message, .. } = &mut err {
                        *message = "the new policy is disabled or has no permit rule that applies to this grant".into();
                    }
                }
                return Err(err);
            }
            next.scopes = new_scopes;
            let policy = match &new_policy {
                Some(p) => p.id,
                None => governing_policy(&eval)?.id,
            };
            let meta = eval
                .determining
                .iter()
                .find(|r| r.policy.id == policy)
                .map(|r| r.policy.clone())
                .ok_or_else(|| {
                    Error::internal(anyhow::anyhow!("governing policy not determining"))
                })?;
            if scopes.is_some() && meta.approval.is_some() {
                return Err(needs_approval(&meta, "given other scopes"));
            }
            next.policy_id = meta.id;
            next.policy_key = meta.key.clone();
            next.notices = eval.notices.clone();
            next.audit_session = eval.determining.iter().any(|r| r.audit_session);
            next.review_required = false;
            next.last_decision = Some(LastDecision {
                action: "request".into(),
                context: body.context.clone(),
            });
            decision = Some((eval, set.version, meta.max_duration_seconds));
        }
        if let Some(at) = body.granted_at {
            let max = match &decision {
                Some((_, _, max)) => *max,
                None => s
                    .store
                    .get_policy(caller.tenant_id, &PolicyRef::Id(next.policy_id))
                    .await?
                    .map(|p| p.max_duration_seconds)
                    .ok_or_else(|| Error::invalid("the grant's policy no longer exists"))?,
            };
            if add_seconds(at, max).is_some_and(|limit| next.expires_at > limit) {
                return Err(Error::invalid(format!(
                    "granted_at: expires_at would be more than the policy's max_duration_seconds ({max}) after it"
                )));
            }
            next.granted_at = at;
        }
        // A new governing policy brings its lifetime cap.
        if let Some((_, _, max)) = &decision {
            let (capped, cut) = cap_lifetime(next.granted_at, next.expires_at, *max);
            if capped <= now {
                return Err(Error::Conflict(format!(
                    "the grant's lifetime under its new governing policy ({max} s from \
                     granted_at) is used up; nothing was changed"
                )));
            }
            next.expires_at = capped;
            clamped = cut;
        }
        next.updated_at = now;
        next.version += 1;
        let raw = serde_json::to_value(json!({
            "status": body.status, "policy_id": body.policy_id, "policy_key": body.policy_key,
            "granted_by": body.granted_by, "granted_at": body.granted_at.map(|t| crate::clock::format_ts(&t)),
            "expires_at": body.expires_at.map(|t| crate::clock::format_ts(&t)),
            "scopes": body.scopes, "context": body.context,
        }))
        .map_err(Error::internal)?;
        let mut event = NewEvent::new(
            now,
            caller.actor(),
            EventKind::GrantUpdate,
            Subject::new("grant", g.id),
        )
        .with_request(raw);
        if let Some((eval, version, _)) = &decision {
            event = decision_event(event, eval, *version);
        }
        match s
            .store
            .update_grant(
                caller.tenant_id,
                &next,
                g.version,
                event,
                decision.as_ref().map(|(_, v, _)| *v),
            )
            .await?
        {
            WriteOutcome::Done => {
                return Ok(Updated {
                    grant: next,
                    clamped,
                })
            }
            WriteOutcome::StaleRevision => s.policy_sets.invalidate(caller.tenant_id),
            _ => {}
        }
    }
    Err(kept_changing())
}

/// `POST /v1/access/check`: one indexed read; `last_used_at` is stamped in the background.
pub async fn access_check(
    s: &Services,
    caller: &Caller,
    body: AccessCheckBody,
) -> Result<AccessCheckResult> {
    let now = s.clock.now();
    let wanted = body
        .scopes
        .as_deref()
        .map(check_scopes)
        .transpose()?
        .unwrap_or_default();
    let set = s.policy_set(caller, body.min_policy_set_version).await?;
    let resource = super::decisions::uid(&body.resource, "resource")?;
    super::decisions::uid(&body.principal, "principal")?;
    let mut resources = vec![body.resource.clone()];
    // Grants on ancestors matter only when some policy covers descendants.
    let ancestors = (!set.covering.is_empty())
        .then(|| set.entities.ancestors(&resource))
        .flatten();
    if let Some(ancestors) = ancestors {
        resources.extend(ancestors.map(|a| EntityRef {
            etype: a.type_name().to_string(),
            id: a.id().unescaped().to_string(),
        }));
    }
    // A grant covers exactly its own resource; one on an ancestor counts only when its
    // governing policy is enabled and says it covers descendants. The answer is the
    // covering grant that lasts longest (then the greatest id).
    let covers = |g: &Grant| g.resource == body.resource || set.covering.contains(&g.policy_id);
    let accept = |g: &Grant| g.is_active_at(now) && covers(g) && scopes_cover(&g.scopes, &wanted);
    let best = s
        .store
        .best_active_grant_on(caller.tenant_id, &body.principal, &resources, now, &accept)
        .await?;
    let Some(g) = best else {
        return Ok(AccessCheckResult {
            allowed: false,
            grant_id: None,
            expires_at: None,
        });
    };
    let minute_ago = now - Duration::seconds(60);
    if g.last_used_at.is_none_or(|t| t < minute_ago) {
        let (store, tenant, id) = (s.store.clone(), caller.tenant_id, g.id);
        tokio::spawn(async move {
            if let Err(e) = store.stamp_last_used(tenant, id, now, minute_ago).await {
                static LOG: crate::throttle::LogThrottle =
                    crate::throttle::LogThrottle::new(std::time::Duration::from_secs(10));
                if let Some(n) = LOG.admit() {
                    tracing::warn!(error = ?e, earlier_not_logged = n, "could not stamp last_used_at");
                }
            }
        });
    }
    Ok(AccessCheckResult {
        allowed: true,
        grant_id: Some(g.id),
        expires_at: Some(g.expires_at),
    })
}

fn expire_event(g: &Grant) -> NewEvent {
    NewEvent::new(
        g.updated_at,
        Actor {
            key_id: "sweeper".into(),
            role: "system".into(),
            on_behalf_of: None,
        },
        if g.status == GrantStatus::ApprovalExpired {
            EventKind::GrantApprovalExpire
        } else {
            EventKind::GrantExpire
        },
        Subject::new("grant", g.id),
    )
    .with_request(json!({"expires_at": crate::clock::format_ts(&g.expires_at)}))
}

/// Persists EXPIRED (with `grant.expire` events) for every grant due at the clock's now.
pub async fn sweep(store: &DynStore, now: DateTime<Utc>) -> Result<usize> {
    const BATCH: i64 = 500;
    let mut total = 0;
    loop {
        let n = store.expire_due(now, BATCH, expire_event).await?;
        total += n;
        if (n as i64) < BATCH {
            return Ok(total);
        }
    }
}
