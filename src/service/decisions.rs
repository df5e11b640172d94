//! Authorization decisions, answered from the tenant's compiled set in memory. The only
//! database work on this path is the decision's audit event, group-committed and durable
//! before the answer is returned.

use super::{Caller, Services};
use crate::cedar::engine::{CompiledSet, Evaluation};
use crate::domain::audit::{EventKind, NewEvent, Subject};
use crate::domain::decision::{AuthorizeRequest, DecisionBody, EntityRef, MAX_BATCH};
use crate::error::{Error, Result};
use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::str::FromStr;

pub fn uid(r: &EntityRef, field: &str) -> Result<EntityUid> {
    let t = EntityTypeName::from_str(&r.etype).map_err(|e| {
        Error::invalid(format!(
            "{field}.type: {:?} is not a Cedar type name: {e}",
            r.etype
        ))
    })?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(&r.id)))
}

/// A request checked against the schema, with the entities it is evaluated against.
pub struct Prepared<'a> {
    pub request: Request,
    pub entities: Cow<'a, Entities>,
    pub principal: EntityUid,
}

/// [`uid`] for a request decided with `set`: a type the schema names is looked up, not
/// parsed; any other takes [`uid`] (which parses it, or says why it is no type name).
fn set_uid(set: &CompiledSet, r: &EntityRef, at: &str, field: &str) -> Result<EntityUid> {
    match set.type_names.get(r.etype.as_str()) {
        Some(t) => Ok(EntityUid::from_type_name_and_id(
            t.clone(),
            EntityId::new(&r.id),
        )),
        None => uid(r, &format!("{at}{field}")),
    }
}

/// Builds a Cedar request from its parts, validated against the compiled set's schema.
/// `None` for the context is the empty context.
pub fn prepare<'a>(
    set: &'a CompiledSet,
    principal: &EntityRef,
    action: &EntityRef,
    resource: &EntityRef,
    context: Option<&Value>,
    extra: Option<&[Value]>,
    at: &str,
) -> Result<Prepared<'a>> {
    let p = set_uid(set, principal, at, "principal")?;
    let a = set_uid(set, action, at, "action")?;
    let r = set_uid(set, resource, at, "resource")?;
    let ctx = match context {
        None => Context::empty(),
        Some(context) if !context.is_object() => {
            return Err(Error::invalid(format!(
                "{at}context: must be a JSON object"
            )));
        }
        Some(context) => match simple_context(context) {
            Some(ctx) => ctx,
            None => {
                Context::from_json_value(context.clone(), Some((&set.schema, &a))).map_err(|e| {
                    Error::invalid(format!("{at}context: {}", super::catalog::error_chain(&e)))
                })?
            }
        },
    };
    let request = Request::new(p.clone(), a, r, ctx, Some(&set.schema))
        .map_err(|e| Error::invalid(format!("{at}request: {}", super::catalog::error_chain(&e))))?;
    let entities = match extra {
        None | Some([]) => Cow::Borrowed(&set.entities),
        Some(list) => Cow::Owned(with_request_entities(set, list, at)?),
    };
    Ok(Prepared {
        request,
        entities,
        principal: p,
    })
}

/// A context of strings, integers, booleans and sets of them, built without Cedar's JSON
/// parser (which tries every value shape in turn and is most of a decision's cost). Its
/// type is still checked against the schema, by `Request::new`. Anything else — records,
/// entity references, extension values, fractions — returns `None` and takes the full
/// schema-directed parse.
fn simple_context(v: &Value) -> Option<Context> {
    fn expr(v: &Value) -> Option<RestrictedExpression> {
        match v {
            Value::String(s) => Some(RestrictedExpression::new_string(s.clone())),
            Value::Bool(b) => Some(RestrictedExpression::new_bool(*b)),
            Value::Number(n) => n.as_i64().map(RestrictedExpression::new_long),
            Value::Array(items) => items
                .iter()
                .map(expr)
                .collect::<Option<Vec<_>>>()
                .map(RestrictedExpression::new_set),
            Value::Null | Value::Object(_) => None,
        }
    }
    let pairs = v
        .as_object()?
        .iter()
        .map(|(k, v)| expr(v).map(|e| (k.clone(), e)))
        .collect::<Option<Vec<_>>>()?;
    Context::from_pairs(pairs).ok()
}

/// The stored entities plus request-scoped ones, which may only add.
fn with_request_entities(set: &CompiledSet, list: &[Value], at: &str) -> Result<Entities> {
    let actions: HashSet<EntityUid> = set.schema.actions().cloned().collect();
    let mut added = Vec::with_capacity(list.len());
    let mut seen = HashSet::new();
    for (i, v) in list.iter().enumerate() {
        let e = Entity::from_json_value(v.clone(), Some(&set.schema)).map_err(|e| {
            Error::invalid(format!(
                "{at}entities[{i}]: {}",
                super::catalog::error_chain(&e)
            ))
        })?;
        let id = e.uid();
        if actions.contains(&id) {
            return Err(Error::invalid(format!(
                "{at}entities[{i}]: {id} is an action; actions come from the schema"
            )));
        }
        if set.referenced.contains(&id) {
            return Err(Error::invalid(format!(
                "{at}entities[{i}]: {id} is named as a parent by stored entities; request-scoped entities may not change stored entities' groups"
            )));
        }
        if set.entities.get(&id).is_some() {
            return Err(Error::invalid(format!(
                "{at}entities[{i}]: {id} is a stored entity; request-scoped entities may only add entities the store lacks"
            )));
        }
        if !seen.insert(id.clone()) {
            return Err(Error::invalid(format!(
                "{at}entities[{i}]: {id} appears twice"
            )));
        }
        added.push(e);
    }
    // The stored set is cloned only for calls that bring their own entities.
    set.entities
        .clone()
        .add_entities(added, Some(&set.schema))
        .map_err(|e| Error::invalid(format!("{at}entities: {}", super::catalog::error_chain(&e))))
}

pub fn body(eval: &Evaluation, version: i64) -> DecisionBody {
    DecisionBody {
        decision: if eval.allowed { "allow" } else { "deny" }.into(),
        deny_reason: eval.deny_reason.map(|d| d.as_str().to_string()),
        determining: eval.determining_wire(),
        notices: eval.notices.clone(),
        errors: eval.errors.clone(),
        policy_set_version: version,
    }
}

/// The JSON form of an entity reference, built directly (no serializer round trip).
fn ref_value(r: EntityRef) -> Value {
    let mut m = Map::with_capacity(2);
    m.insert("type".into(), Value::String(r.etype));
    m.insert("id".into(), Value::String(r.id));
    Value::Object(m)
}

/// The decision's audit event; it takes the request, which the answer no longer needs.
fn event(
    s: &Services,
    caller: &Caller,
    principal: &EntityUid,
    req: AuthorizeRequest,
    d: &DecisionBody,
) -> NewEvent {
    let mut request = Map::with_capacity(5);
    let entities = req.entities.as_ref().map_or(0, Vec::len);
    request.insert("principal".into(), ref_value(req.principal));
    request.insert("action".into(), ref_value(req.action));
    request.insert("resource".into(), ref_value(req.resource));
    request.insert(
        "context".into(),
        req.context.unwrap_or_else(|| Value::Object(Map::new())),
    );
    request.insert("entities".into(), Value::from(entities));
    let mut e = NewEvent::new(
        s.clock.now(),
        caller.actor(),
        EventKind::Authorize,
        Subject::new("principal", principal),
    )
    .with_request(Value::Object(request));
    e.decision = Some(d.decision.clone());
    e.deny_reason = d.deny_reason.clone();
    e.determining = Some(d.determining.clone());
    e.notices = Some(d.notices.clone());
    e.policy_set_version = Some(d.policy_set_version);
    e
}

fn decide(
    set: &CompiledSet,
    req: &AuthorizeRequest,
    at: &str,
) -> Result<(EntityUid, DecisionBody)> {
    let prepared = prepare(
        set,
        &req.principal,
        &req.action,
        &req.resource,
        req.context.as_ref(),
        req.entities.as_deref(),
        at,
    )?;
    let eval = set.evaluate(&prepared.request, &prepared.entities);
    Ok((prepared.principal, body(&eval, set.version)))
}

pub async fn authorize(
    s: &Services,
    caller: &Caller,
    req: AuthorizeRequest,
) -> Result<DecisionBody> {
    let set = s.engine.get(caller.tenant_id).await?;
    let (principal, d) = decide(&set, &req, "")?;
    s.audit
        .append(caller.tenant_id, event(s, caller, &principal, req, &d))
        .await?;
    Ok(d)
}

/// Decides up to 100 requests with one compiled set; every request is checked before any
/// is decided, and every decision is audited before the answer leaves.
pub async fn authorize_batch(
    s: &Services,
    caller: &Caller,
    reqs: Vec<AuthorizeRequest>,
) -> Result<Vec<DecisionBody>> {
    if reqs.len() > MAX_BATCH {
        return Err(Error::invalid(format!(
            "requests: at most {MAX_BATCH} per batch, got {}",
            reqs.len()
        )));
    }
    let set = s.engine.get(caller.tenant_id).await?;
    let decided = reqs
        .iter()
        .enumerate()
        .map(|(i, r)| decide(&set, r, &format!("requests[{i}].")))
        .collect::<Result<Vec<_>>>()?;
    let appends = decided.iter().zip(reqs).map(|((principal, d), r)| {
        s.audit
            .append(caller.tenant_id, event(s, caller, principal, r, d))
    });
    for r in futures_util::future::join_all(appends).await {
        r?;
    }
    Ok(decided.into_iter().map(|(_, d)| d).collect())
}
