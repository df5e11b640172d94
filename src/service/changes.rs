//! Change safety: what one configuration write would do, before it is made.
//!
//! A change is named exactly as the write would be sent (`{"method", "path", "body"}`) and
//! checked by the same validation the write runs (`candidate`), which yields the tenant's
//! configuration as the write would leave it. [`preview`] compiles that configuration and
//! re-decides, under it, every effectively active grant (as its last decision was made)
//! and the tenant's recent recorded decisions; it writes nothing. The grant re-decision
//! ([`redecide`]) is the one re-evaluation applies after a write commits.

use super::grants::grant_context;
use super::lint::{lint, Warning};
use super::policies::{build_new, build_patched, check_policy, invalid, parse_stored_schema};
use super::{Caller, Services};
use crate::cedar::engine::{compile, CompiledSet, Evaluation};
use crate::domain::audit::{AuditEvent, Determining, EventKind};
use crate::domain::config::{EntityRow, TenantConfig};
use crate::domain::decision::{AuthorizeRequest, EntityRef};
use crate::domain::grant::{add_seconds, Grant};
use crate::domain::grant_query::Cond;
use crate::domain::ids::TenantId;
use crate::domain::policy::{Policy, PolicyCreate, PolicyPatch, PolicyRef};
use crate::error::{Error, Result};
use crate::store::DynStore;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Recorded decisions a preview replays at most (the newest in its window).
pub const MAX_REPLAYED: i64 = 10_000;
/// Recorded decisions read per step of the replay.
const REPLAY_PAGE: i64 = 1_000;
/// A recorded decision longer than this (its event's JSON, in characters) is not replayed
/// (it counts as not replayable): a page of them stays small whatever callers sent.
pub const MAX_REPLAYED_EVENT_LEN: i64 = 64 * 1024;
/// Items a preview lists at most per section; its counts cover every item examined.
pub const MAX_LISTED: usize = 10_000;
/// How long one preview may re-decide: rules can be slow to evaluate (long literal sets,
/// say), and a preview decides up to 10,000 grants and 10,000 recorded decisions. Past
/// it, both walks stop where they are and the answer says `complete: false`.
pub const PREVIEW_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// The replay window when `since` is not given.
pub const DEFAULT_WINDOW_DAYS: i64 = 7;
/// Active grants read per step of a preview's walk.
const GRANT_PAGE: i64 = 1_000;

/// One configuration write, named as it would be sent. Its `body` is kept as sent (byte
/// for byte), so it is parsed exactly as the write would parse it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: String,
    /// `/v1/policies` (POST), `/v1/policies/{id or key}` (PATCH, DELETE), `/v1/schema`
    /// (PUT), `/v1/entities` (PUT) or `/v1/entities/{type}/{id}` (DELETE), percent-encoded
    /// as in a request line.
    pub path: String,
    /// The write's JSON body (none for DELETE).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Box<RawValue>>,
}

/// A change, parsed.
#[derive(Debug, Clone)]
pub enum Change {
    CreatePolicy(Box<PolicyCreate>),
    PatchPolicy(PolicyRef, Box<PolicyPatch>),
    DeletePolicy(PolicyRef),
    PutSchema(String),
    PutEntities(Value),
    DeleteEntity(String, String),
}

/// A path segment, percent-decoded as the router decodes the path parameter `param`.
fn segment(s: &str, param: &str) -> Result<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| Error::invalid(format!("Invalid URL: Invalid UTF-8 in `{param}`")))
}

/// The write's body as `T`, parsed from the bytes sent, as the write's own body parser
/// parses them (a missing body is an empty one).
fn body_as<T: serde::de::DeserializeOwned>(body: Option<Box<RawValue>>) -> Result<T> {
    let bytes = body.as_deref().map_or("", RawValue::get);
    crate::http::extract::parse_json(bytes.as_bytes())
}

impl Change {
    /// The write `c` names; a method and path that are not a configuration write are a 400.
    pub fn parse(c: ChangeBody) -> Result<Change> {
        let method = c.method.as_str();
        // as the router takes it: the query string is not part of the route, a NUL is
        // refused, the path is matched exactly (no trailing slash), methods in upper case
        if c.path.contains("%00") {
            return Err(Error::invalid(crate::error::URL_NUL_REFUSED));
        }
        let path = c.path.split(['?', '#']).next().unwrap_or_default();
        let parts: Vec<&str> = path.split('/').collect();
        match (method, parts.as_slice()) {
            ("POST", ["", "v1", "policies"]) => Ok(Change::CreatePolicy(body_as(c.body)?)),
            ("PATCH", ["", "v1", "policies", r]) if !r.is_empty() => Ok(Change::PatchPolicy(
                PolicyRef::parse(&segment(r, "id")?),
                body_as(c.body)?,
            )),
            // a deletion's body, if any, is ignored, as by the write
            ("DELETE", ["", "v1", "policies", r]) if !r.is_empty() => {
                Ok(Change::DeletePolicy(PolicyRef::parse(&segment(r, "id")?)))
            }
            ("PUT", ["", "v1", "schema"]) => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct SchemaBody {
                    cedarschema: String,
                }
                let b: SchemaBody = body_as(c.body)?;
                Ok(Change::PutSchema(b.cedarschema))
            }
            ("PUT", ["", "v1", "entities"]) => Ok(Change::PutEntities(body_as(c.body)?)),
            ("DELETE", ["", "v1", "entities", t, id]) if !t.is_empty() && !id.is_empty() => Ok(
                Change::DeleteEntity(segment(t, "type")?, segment(id, "id")?),
            ),
            _ => Err(Error::invalid(format!(
                "{} {}: not a configuration write; preview POST /v1/policies, PATCH or DELETE \
                 /v1/policies/{{id}}, PUT /v1/schema, PUT /v1/entities or DELETE \
                 /v1/entities/{{type}}/{{id}}",
                c.method, c.path
            ))),
        }
    }
}

/// The tenant's configuration as a change would leave it.
pub struct Candidate {
    /// Enabled policies, schema and entities after the change; `revision` is the one it
    /// was read at.
    pub config: TenantConfig,
    /// The lints the write would answer with.
    pub notices: Vec<Warning>,
    /// The policy a deletion removes.
    pub deleted_policy: Option<Uuid>,
}

fn key_taken(all: &[Policy], p: &Policy) -> Result<()> {
    match &p.key {
        Some(k)
            if all
                .iter()
                .any(|o| o.id != p.id && o.key.as_ref() == Some(k)) =>
        {
            Err(Error::Conflict(format!(
                "a policy with key {k:?} already exists in this tenant"
            )))
        }
        _ => Ok(()),
    }
}

fn find_policy<'a>(all: &'a [Policy], r: &PolicyRef) -> Result<&'a Policy> {
    all.iter()
        .find(|p| match r {
            PolicyRef::Id(id) => p.id == *id,
            PolicyRef::Key(k) => p.key.as_deref() == Some(k.as_str()),
        })
        .ok_or_else(|| Error::not_found("no such policy"))
}

/// Checks `change` as its write would (same validation, same 4xx) and applies it to the
/// tenant's stored configuration, in memory.
pub async fn candidate(
    store: &DynStore,
    tenant: TenantId,
    change: Change,
    now: DateTime<Utc>,
) -> Result<Candidate> {
    let mut config = store.load_config(tenant).await?;
    let mut notices = Vec::new();
    let mut deleted_policy = None;
    match change {
        Change::CreatePolicy(input) => {
            let built = build_new(&input, now);
            if !built.errors.is_empty() {
                return Err(invalid("policy", built.errors, Vec::new()));
            }
            let schema = parse_stored_schema(&config.cedarschema)?;
            let (diags, warnings) = check_policy(&schema, &built.policy, &built.assembled);
            if !diags.is_empty() {
                return Err(invalid("policy", Vec::new(), diags));
            }
            let all = store.all_policies(tenant).await?;
            key_taken(&all, &built.policy)?;
            notices = lint(&built.policy, warnings, &all);
            if built.policy.enabled {
                config.policies.push(built.policy);
            }
        }
        Change::PatchPolicy(r, patch) => {
            let all = store.all_policies(tenant).await?;
            let current = find_policy(&all, &r)?;
            let built = build_patched(current, *patch, now);
            if !built.errors.is_empty() {
                return Err(invalid("policy", built.errors, Vec::new()));
            }
            let schema = parse_stored_schema(&config.cedarschema)?;
            let (diags, warnings) = check_policy(&schema, &built.policy, &built.assembled);
            if !diags.is_empty() {
                return Err(invalid("policy", Vec::new(), diags));
            }
            key_taken(&all, &built.policy)?;
            notices = lint(&built.policy, warnings, &all);
            config.policies.retain(|p| p.id != built.policy.id);
            if built.policy.enabled {
                config.policies.push(built.policy);
            }
        }
        Change::DeletePolicy(r) => {
            let all = store.all_policies(tenant).await?;
            let current = find_policy(&all, &r)?;
            let governed = store
                .active_grants(
                    tenant,
                    &[Cond::Policy {
                        values: vec![current.id.to_string()],
                        negate: false,
                    }],
                    None,
                    1,
                    now,
                )
                .await?;
            if !governed.is_empty() {
                return Err(Error::Conflict(
                    "the policy governs active grants: disable it instead, or revoke them first"
                        .into(),
                ));
            }
            deleted_policy = Some(current.id);
            config.policies.retain(|p| p.id != current.id);
        }
        Change::PutSchema(text) => {
            let parsed = super::catalog::parse_schema(&text)?;
            notices = super::catalog::refuse_breakage(store, tenant, &parsed).await?;
            config.cedarschema = text;
        }
        Change::PutEntities(body) => {
            let (list, uids) = super::catalog::entities_body(body)?;
            let schema = parse_stored_schema(&config.cedarschema)?;
            let checked =
                super::catalog::check_entities(&schema, &list, &uids, config.entities.clone())
                    .await?;
            let mut at: HashMap<(String, String), usize> = config
                .entities
                .iter()
                .enumerate()
                .map(|(i, r)| ((r.etype.clone(), r.id.clone()), i))
                .collect();
            for (_, row) in checked {
                match at.get(&(row.etype.clone(), row.id.clone())) {
                    Some(&i) => config.entities[i] = row,
                    None => {
                        at.insert((row.etype.clone(), row.id.clone()), config.entities.len());
                        config.entities.push(row);
                    }
                }
            }
        }
        Change::DeleteEntity(t, id) => {
            let before = config.entities.len();
            config
                .entities
                .retain(|r: &EntityRow| !(r.etype == t && r.id == id));
            if config.entities.len() == before {
                return Err(Error::not_found("no such entity"));
            }
        }
    }
    Ok(Candidate {
        config,
        notices,
        deleted_policy,
    })
}

/// Compiles a candidate configuration off the async workers.
pub async fn compile_candidate(config: TenantConfig) -> Result<Arc<CompiledSet>> {
    tokio::task::spawn_blocking(move || compile(config))
        .await
        .map_err(Error::internal)?
        .map(Arc::new)
}

/// How a grant stands under a policy set.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// Still permitted by its governing policy, within that policy's lifetime cap.
    Unchanged,
    /// No longer permitted (or its request could not even be made: `error`).
    Denied {
        deny_reason: String,
        determining: Vec<Determining>,
        notices: Vec<String>,
        error: Option<String>,
    },
    /// Permitted, but its `expires_at` is beyond `granted_at` + the governing policy's
    /// maximum: it would end at `expires_at`.
    Clamped {
        policy_id: Uuid,
        policy_key: Option<String>,
        expires_at: DateTime<Utc>,
    },
    /// Permitted, but its own policy no longer permits it: this one would govern it.
    PolicyChanged {
        policy_id: Uuid,
        policy_key: Option<String>,
    },
}

impl Standing {
    pub fn outcome(&self) -> Option<&'static str> {
        match self {
            Standing::Unchanged => None,
            Standing::Denied { .. } => Some("denied"),
            Standing::Clamped { .. } => Some("clamped"),
            Standing::PolicyChanged { .. } => Some("policy_changed"),
        }
    }
}

fn error_standing(message: String) -> Standing {
    Standing::Denied {
        deny_reason: "error".into(),
        determining: Vec::new(),
        notices: Vec::new(),
        error: Some(message),
    }
}

/// Whether a grant request for `principal` on `resource` could be made at all: both are
/// stored entities (what `POST /v1/grants` checks first), else why not.
fn in_store(
    set: &CompiledSet,
    principal: &EntityRef,
    resource: &EntityRef,
) -> std::result::Result<(), String> {
    super::grants::stored_uid(set, principal, "principal")
        .and_then(|_| super::grants::stored_uid(set, resource, "resource"))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// An active grant re-decided under `set` at `now`, as its last decision was made: the
/// same action (`request`, or `extend`) and caller context, with its scopes, reason and
/// remaining duration. A grant whose principal or resource left the entity store, or
/// whose request no longer checks against the schema, is denied (`deny_reason: error`):
/// a request for it would be refused.
pub fn redecide(set: &CompiledSet, g: &Grant, now: DateTime<Utc>) -> Standing {
    if let Err(m) = in_store(set, &g.principal, &g.resource) {
        return error_standing(m);
    }
    let (action, extra) = match &g.last_decision {
        Some(d) => (d.action.as_str(), d.context.as_ref()),
        None if g.extension_count > 0 => ("extend", None),
        None => ("request", None),
    };
    let remaining = (g.expires_at - now).num_seconds().max(1);
    let total = (g.expires_at - g.granted_at).num_seconds().max(1);
    let count = if action == "extend" {
        (g.extension_count - 1).max(0)
    } else {
        g.extension_count
    };
    let ctx = match grant_context(
        extra,
        Some(remaining),
        Some(total),
        &g.scopes,
        g.reason.as_deref().unwrap_or(""),
        count,
    ) {
        Ok(c) => c,
        Err(e) => return error_standing(e.to_string()),
    };
    let action_ref = EntityRef {
        etype: "Action".into(),
        id: action.into(),
    };
    let prepared = match super::decisions::prepare(
        set,
        &g.principal,
        &action_ref,
        &g.resource,
        Some(&ctx),
        None,
        "",
    ) {
        Ok(p) => p,
        Err(e) => return error_standing(e.to_string()),
    };
    let eval = set.evaluate(&prepared.request, &prepared.entities);
    standing(&eval, g)
}

fn standing(eval: &Evaluation, g: &Grant) -> Standing {
    if !eval.allowed {
        return Standing::Denied {
            deny_reason: eval.deny_reason.map_or("no_permit", |d| d.as_str()).into(),
            determining: eval.determining_wire(),
            notices: eval.notices.clone(),
            error: None,
        };
    }
    // Its own policy keeps it while that policy still permits it (an admin may have moved
    // it there); otherwise the policy a new request would be governed by.
    let own = eval
        .determining
        .iter()
        .find(|r| r.policy.id == g.policy_id && r.effect == crate::domain::rule::Effect::Permit);
    let (policy, changed) = match own {
        Some(r) => (r.policy.clone(), false),
        None => match super::grants::governing_policy(eval) {
            Ok(p) => (p, true),
            Err(e) => return error_standing(e.to_string()),
        },
    };
    let cap = add_seconds(g.granted_at, policy.max_duration_seconds);
    if let Some(cap) = cap.filter(|cap| g.expires_at > *cap) {
        return Standing::Clamped {
            policy_id: policy.id,
            policy_key: policy.key.clone(),
            expires_at: cap,
        };
    }
    if changed {
        return Standing::PolicyChanged {
            policy_id: policy.id,
            policy_key: policy.key.clone(),
        };
    }
    Standing::Unchanged
}

/// `POST /v1/changes/preview`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The write's method: `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: String,
    /// The write's path (see `ChangeBody`).
    pub path: String,
    /// The write's JSON body (none for DELETE), parsed as the write would parse it.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Box<RawValue>>,
    /// Replay recorded decisions from this time (default: 7 days ago; the newest 10,000).
    #[serde(default, with = "crate::clock::ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// The tenant's policy-set version the change was previewed against.
    pub policy_set_version: i64,
    /// The lints the write would answer with (`severity: "warning"`).
    pub notices: Vec<Warning>,
    pub grants: GrantImpact,
    pub decisions: DecisionImpact,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct GrantCounts {
    pub denied: usize,
    pub clamped: usize,
    pub policy_changed: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantImpact {
    /// Effectively active grants re-decided.
    pub examined: usize,
    pub counts: GrantCounts,
    /// The grants whose standing changes, in id order (at most 10,000).
    pub items: Vec<GrantChange>,
    /// Whether `items` stops short of the counts.
    pub truncated: bool,
    /// `false` when the preview's time ran out before every active grant was re-decided
    /// (`examined` says how many were).
    pub complete: bool,
}

/// An active grant whose standing the change would change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantChange {
    #[schema(value_type = String, format = Uuid)]
    pub grant_id: Uuid,
    pub principal: EntityRef,
    pub resource: EntityRef,
    pub scopes: Vec<String>,
    /// The grant's governing policy now.
    #[schema(value_type = String, format = Uuid)]
    pub policy_id: Uuid,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    /// `denied`, `clamped` or `policy_changed`.
    pub outcome: String,
    /// `denied`: `forbid`, `no_permit`, or `error` (its request could no longer be made;
    /// `error` says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `denied`: the determining rules and the notices the decision would show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub determining: Option<Vec<Determining>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notices: Option<Vec<String>>,
    /// `clamped` and `policy_changed`: the policy that would govern it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub new_policy_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_policy_key: Option<String>,
    /// `clamped`: the expiry its governing policy's maximum allows.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::clock::ts::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub new_expires_at: Option<DateTime<Utc>>,
}

impl GrantChange {
    pub fn new(g: &Grant, s: &Standing) -> Option<GrantChange> {
        let mut c = GrantChange {
            grant_id: g.id,
            principal: g.principal.clone(),
            resource: g.resource.clone(),
            scopes: g.scopes.clone(),
            policy_id: g.policy_id,
            expires_at: g.expires_at,
            outcome: s.outcome()?.to_string(),
            deny_reason: None,
            error: None,
            determining: None,
            notices: None,
            new_policy_id: None,
            new_policy_key: None,
            new_expires_at: None,
        };
        match s {
            Standing::Unchanged => return None,
            Standing::Denied {
                deny_reason,
                determining,
                notices,
                error,
            } => {
                c.deny_reason = Some(deny_reason.clone());
                c.error = error.clone();
                c.determining = Some(determining.clone());
                c.notices = Some(notices.clone());
            }
            Standing::Clamped {
                policy_id,
                policy_key,
                expires_at,
            } => {
                c.new_policy_id = Some(*policy_id);
                c.new_policy_key = policy_key.clone();
                c.new_expires_at = Some(*expires_at);
            }
            Standing::PolicyChanged {
                policy_id,
                policy_key,
            } => {
                c.new_policy_id = Some(*policy_id);
                c.new_policy_key = policy_key.clone();
            }
        }
        Some(c)
    }
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct DecisionCounts {
    /// Decisions whose outcome or deny reason would differ.
    pub flipped: usize,
    pub allow_to_deny: usize,
    pub deny_to_allow: usize,
    /// Still denied, for another reason.
    pub reason_changed: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionImpact {
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub since: DateTime<Utc>,
    /// Recorded decisions re-decided (the newest in the window, at most 10,000).
    pub replayed: usize,
    /// Recorded decisions in that set that cannot be replayed: `authorize` calls that
    /// brought request-scoped entities (which the audit log does not keep), extensions
    /// recorded before their events carried the grant, and events over 64 KiB.
    pub not_replayable: usize,
    pub counts: DecisionCounts,
    /// The decisions that would flip, newest first (at most 10,000).
    pub items: Vec<DecisionFlip>,
    pub truncated: bool,
    /// `false` when the preview's time ran out before the window was replayed
    /// (`replayed` says how many were).
    pub complete: bool,
}

/// A decision as recorded, or as re-decided.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    /// `allow` or `deny`.
    pub decision: String,
    pub deny_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub determining: Option<Vec<Determining>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notices: Option<Vec<String>>,
    /// Why the request could not be decided at all under the candidate set (then `deny`,
    /// `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    /// A request that could not be decided under the candidate set: a deny, `error`.
    fn undecided(message: String) -> Outcome {
        Outcome {
            decision: "deny".into(),
            deny_reason: Some("error".into()),
            determining: Some(Vec::new()),
            notices: Some(Vec::new()),
            error: Some(message),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionFlip {
    /// The recorded event (`GET /v1/audit/events` shows it whole).
    pub event_id: String,
    pub seq: i64,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// `authorize`, `grant.request` or `grant.extend`.
    pub kind: String,
    pub principal: EntityRef,
    pub action: EntityRef,
    pub resource: EntityRef,
    /// The policy-set version it was decided on.
    pub policy_set_version: Option<i64>,
    pub before: Outcome,
    pub after: Outcome,
}

/// A recorded decision rebuilt as the request it decided.
struct Replay {
    principal: EntityRef,
    action: EntityRef,
    resource: EntityRef,
    context: Value,
    /// A grant request: its principal and resource must be stored entities.
    needs_stored: bool,
}

fn entity_at(v: &Value, key: &str) -> Option<EntityRef> {
    serde_json::from_value(v.get(key)?.clone()).ok()
}

/// The request a recorded decision decided, if the event holds all of it.
fn replay_of(e: &AuditEvent) -> Option<std::result::Result<Replay, String>> {
    let c = &e.content;
    let req = c.request.as_ref()?;
    let action = |id: &str| EntityRef {
        etype: "Action".into(),
        id: id.into(),
    };
    match c.kind {
        EventKind::Authorize => {
            if req.get("entities").and_then(Value::as_u64).unwrap_or(0) > 0 {
                return None;
            }
            Some(Ok(Replay {
                principal: entity_at(req, "principal")?,
                action: entity_at(req, "action")?,
                resource: entity_at(req, "resource")?,
                context: req
                    .get("context")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
                needs_stored: false,
            }))
        }
        EventKind::GrantRequest => {
            let scopes: Vec<String> = req
                .get("scopes")
                .and_then(|s| serde_json::from_value::<Option<Vec<String>>>(s.clone()).ok())
                .flatten()
                .unwrap_or_default();
            let scopes = crate::domain::grant::normalize_scopes(&scopes);
            let duration = req.get("duration_seconds").and_then(Value::as_i64);
            let reason = req.get("reason").and_then(Value::as_str).unwrap_or("");
            let ctx = grant_context(req.get("context"), duration, duration, &scopes, reason, 0);
            Some(ctx.map_err(|e| e.to_string()).map(|context| Replay {
                principal: entity_at(req, "principal").unwrap_or_else(|| action("?")),
                action: action("request"),
                resource: entity_at(req, "resource").unwrap_or_else(|| action("?")),
                context,
                needs_stored: true,
            }))
        }
        EventKind::GrantExtend => {
            let g = req.get("grant")?;
            let granted_at = g
                .get("granted_at")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())?
                .with_timezone(&Utc);
            let new_expiry = match (
                req.get("duration_seconds").and_then(Value::as_i64),
                req.get("expires_at").and_then(Value::as_str),
            ) {
                (Some(d), _) => add_seconds(c.at, d)?,
                (_, Some(t)) => DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc),
                _ => return None,
            };
            let scopes: Vec<String> =
                serde_json::from_value(g.get("scopes")?.clone()).unwrap_or_default();
            let ctx = grant_context(
                req.get("context"),
                Some((new_expiry - c.at).num_seconds()),
                Some((new_expiry - granted_at).num_seconds()),
                &scopes,
                g.get("reason").and_then(Value::as_str).unwrap_or(""),
                g.get("extension_count")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            );
            Some(ctx.map_err(|e| e.to_string()).map(|context| Replay {
                principal: entity_at(g, "principal").unwrap_or_else(|| action("?")),
                action: action("extend"),
                resource: entity_at(g, "resource").unwrap_or_else(|| action("?")),
                context,
                needs_stored: true,
            }))
        }
        _ => None,
    }
}

fn redecide_recorded(set: &CompiledSet, r: &Replay) -> Outcome {
    if r.needs_stored {
        if let Err(m) = in_store(set, &r.principal, &r.resource) {
            return Outcome::undecided(m);
        }
    }
    let req = AuthorizeRequest {
        principal: r.principal.clone(),
        action: r.action.clone(),
        resource: r.resource.clone(),
        context: Some(r.context.clone()),
        entities: None,
        min_policy_set_version: None,
    };
    match super::decisions::decide_one(set, &req) {
        Ok(d) => Outcome {
            decision: d.decision,
            deny_reason: d.deny_reason,
            determining: Some(d.determining),
            notices: Some(d.notices),
            error: None,
        },
        Err(e) => Outcome::undecided(e.to_string()),
    }
}

/// Re-decides recorded decisions (event bodies, `None` when too long) under `set`:
/// (replayed, not replayable, flips).
fn replay_all(
    set: &CompiledSet,
    bodies: &[(i64, Option<String>)],
    deadline: std::time::Instant,
) -> Result<(usize, usize, Vec<DecisionFlip>)> {
    let (mut replayed, mut skipped) = (0, 0);
    let mut flips = Vec::new();
    for (i, (_, body)) in bodies.iter().enumerate() {
        if i % 64 == 0 && std::time::Instant::now() > deadline {
            break;
        }
        let Some(body) = body else {
            skipped += 1;
            continue;
        };
        let e = AuditEvent {
            content: serde_json::from_str(body)
                .map_err(|_| Error::internal(anyhow::anyhow!("corrupt row: audit_events.body")))?,
            hash: String::new(),
            prev_hash: String::new(),
        };
        let e = &e;
        let c = &e.content;
        let Some(replay) = replay_of(e) else {
            skipped += 1;
            continue;
        };
        replayed += 1;
        let before = Outcome {
            decision: c.decision.clone().unwrap_or_default(),
            deny_reason: c.deny_reason.clone(),
            determining: c.determining.clone(),
            notices: c.notices.clone(),
            error: None,
        };
        let (after, replay) = match replay {
            Ok(r) => (redecide_recorded(set, &r), Some(r)),
            Err(m) => (Outcome::undecided(m), None),
        };
        if after.decision == before.decision && after.deny_reason == before.deny_reason {
            continue;
        }
        let req = c.request.as_ref();
        let pick = |key: &str, fallback: Option<&EntityRef>| {
            fallback
                .cloned()
                .or_else(|| req.and_then(|r| entity_at(r, key)))
        };
        let unknown = EntityRef {
            etype: String::new(),
            id: String::new(),
        };
        flips.push(DecisionFlip {
            event_id: c.id.to_string(),
            seq: c.seq,
            at: c.at,
            kind: c.kind.as_str().to_string(),
            principal: pick("principal", replay.as_ref().map(|r| &r.principal))
                .unwrap_or_else(|| unknown.clone()),
            action: pick("action", replay.as_ref().map(|r| &r.action))
                .unwrap_or_else(|| unknown.clone()),
            resource: pick("resource", replay.as_ref().map(|r| &r.resource))
                .unwrap_or_else(|| unknown.clone()),
            policy_set_version: c.policy_set_version,
            before,
            after,
        });
    }
    Ok((replayed, skipped, flips))
}

/// Every active grant re-decided under `set`: (examined, counts, the first changes).
async fn grant_impact(
    s: &Services,
    tenant: TenantId,
    set: &Arc<CompiledSet>,
    now: DateTime<Utc>,
    deadline: std::time::Instant,
) -> Result<(usize, GrantCounts, Vec<GrantChange>, bool)> {
    // walked in pages by id, each page re-decided on a blocking thread
    let mut counts = GrantCounts::default();
    let mut items = Vec::new();
    let mut examined = 0;
    let mut after = None;
    loop {
        if std::time::Instant::now() > deadline {
            return Ok((examined, counts, items, false));
        }
        let page = s
            .store
            .active_grants(tenant, &[], after, GRANT_PAGE, now)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let full = page.len() as i64 == GRANT_PAGE;
        let size = page.len();
        let set = set.clone();
        let (decided, changed) = tokio::task::spawn_blocking(move || {
            crate::cedar::limits::on_cedar_stack(|| {
                let mut decided = 0;
                let mut changed = Vec::new();
                for (i, g) in page.iter().enumerate() {
                    if i % 64 == 0 && std::time::Instant::now() > deadline {
                        break;
                    }
                    decided += 1;
                    changed.extend(GrantChange::new(g, &redecide(&set, g, now)));
                }
                (decided, changed)
            })
        })
        .await
        .map_err(Error::internal)?;
        examined += decided;
        for c in changed {
            match c.outcome.as_str() {
                "denied" => counts.denied += 1,
                "clamped" => counts.clamped += 1,
                _ => counts.policy_changed += 1,
            }
            if items.len() < MAX_LISTED {
                items.push(c);
            }
        }
        if decided < size {
            return Ok((examined, counts, items, false));
        }
        if !full {
            break;
        }
    }
    Ok((examined, counts, items, true))
}

/// The newest recorded decisions since `since` replayed under `set`: (replayed, not
/// replayable, flips).
async fn replay_window(
    s: &Services,
    tenant: TenantId,
    set: &Arc<CompiledSet>,
    since: DateTime<Utc>,
    deadline: std::time::Instant,
) -> Result<(usize, usize, Vec<DecisionFlip>, bool)> {
    // a page at a time, each parsed and re-decided on a blocking thread
    let (mut replayed, mut not_replayable, mut flips) = (0, 0, Vec::new());
    let mut before = None;
    let mut left = MAX_REPLAYED;
    while left > 0 {
        if std::time::Instant::now() > deadline {
            return Ok((replayed, not_replayable, flips, false));
        }
        let page = s
            .store
            .recent_decisions(
                tenant,
                since,
                before,
                left.min(REPLAY_PAGE),
                MAX_REPLAYED_EVENT_LEN,
            )
            .await?;
        let Some(&(oldest, _)) = page.last() else {
            break;
        };
        before = Some(oldest);
        left -= page.len() as i64;
        let full = page.len() as i64 == REPLAY_PAGE;
        let size = page.len();
        let replay_set = set.clone();
        let (r, n, f) = tokio::task::spawn_blocking(move || {
            crate::cedar::limits::on_cedar_stack(|| replay_all(&replay_set, &page, deadline))
        })
        .await
        .map_err(Error::internal)??;
        replayed += r;
        not_replayable += n;
        flips.extend(f);
        if r + n < size {
            return Ok((replayed, not_replayable, flips, false));
        }
        if !full {
            break;
        }
    }
    Ok((replayed, not_replayable, flips, true))
}

/// `POST /v1/changes/preview`: what the change would do; writes nothing.
pub async fn preview(s: &Services, caller: &Caller, body: PreviewBody) -> Result<Preview> {
    let now = s.clock.now();
    if body.since.is_some_and(|t| t > now) {
        return Err(Error::invalid("since: must not be after now"));
    }
    let since = body
        .since
        .unwrap_or_else(|| now - Duration::days(DEFAULT_WINDOW_DAYS));
    let change = Change::parse(ChangeBody {
        method: body.method,
        path: body.path,
        body: body.body,
    })?;
    let tenant = caller.tenant_id;
    let cand = candidate(&s.store, tenant, change, now).await?;
    let version = cand.config.revision;
    let set = compile_candidate(cand.config).await?;

    // The grants and the recorded decisions at once: each walk's pages are re-decided on
    // blocking threads, so the two keep both cores busy.
    let deadline = std::time::Instant::now() + PREVIEW_BUDGET;
    let (grants, decisions) = tokio::join!(
        grant_impact(s, tenant, &set, now, deadline),
        replay_window(s, tenant, &set, since, deadline)
    );
    let (examined, counts, items, grants_complete) = grants?;
    let listed = counts.denied + counts.clamped + counts.policy_changed;
    let (replayed, not_replayable, mut flips, decisions_complete) = decisions?;
    let mut dcounts = DecisionCounts {
        flipped: flips.len(),
        ..Default::default()
    };
    for f in &flips {
        match (f.before.decision.as_str(), f.after.decision.as_str()) {
            ("allow", "deny") => dcounts.allow_to_deny += 1,
            ("deny", "allow") => dcounts.deny_to_allow += 1,
            _ => dcounts.reason_changed += 1,
        }
    }
    let dtruncated = flips.len() > MAX_LISTED;
    flips.truncate(MAX_LISTED);
    Ok(Preview {
        policy_set_version: version,
        notices: cand.notices,
        grants: GrantImpact {
            examined,
            counts,
            truncated: items.len() < listed,
            items,
            complete: grants_complete,
        },
        decisions: DecisionImpact {
            since,
            replayed,
            not_replayable,
            counts: dcounts,
            items: flips,
            truncated: dtruncated,
            complete: decisions_complete,
        },
    })
}
