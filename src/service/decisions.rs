//! Authorization decisions, answered from the tenant's compiled set in memory. The only
//! database work on this path is the decision's audit event, group-committed and durable
//! before the answer is returned.

use super::{Caller, Services};
use crate::cedar::engine::{CompiledSet, Evaluation};
use crate::cedar::limits;
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
use std::sync::Arc;

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
    let invalid = |e: cedar_policy::RequestValidationError| {
        Error::invalid(format!("{at}request: {}", super::catalog::error_chain(&e)))
    };
    // The shape of a context built here (see `ContextShapes`): the action, then each key
    // and the type of its value. `None` for a context that took Cedar's own parser.
    let mut shape = Vec::with_capacity(64);
    put_shape_str(&mut shape, &action.etype);
    put_shape_str(&mut shape, &action.id);
    let (ctx, shape) = match context {
        None => (Context::empty(), Some(shape)),
        Some(context) if !context.is_object() => {
            return Err(Error::invalid(format!(
                "{at}context: must be a JSON object"
            )));
        }
        Some(context) => {
            limits::check_input(context)
                .map_err(|m| Error::invalid(format!("{at}context: {m}")))?;
            match simple_context(context, &mut shape) {
                Some(ctx) => (ctx, Some(shape)),
                None => (
                    Context::from_json_value(context.clone(), Some((&set.schema, &a))).map_err(
                        |e| {
                            Error::invalid(format!(
                                "{at}context: {}",
                                super::catalog::error_chain(&e)
                            ))
                        },
                    )?,
                    None,
                ),
            }
        }
    };
    // What `Request::new` checks with a schema, in its order: the scope variables, then
    // the context; the context's check is skipped for a shape the schema accepted before.
    cedar_policy::validate_scope_variables(&p, &a, &r, &set.schema).map_err(invalid)?;
    match shape {
        Some(shape) if set.context_shapes.contains(&shape) => {}
        shape => {
            ctx.validate(&set.schema, &a).map_err(invalid)?;
            if let Some(shape) = shape {
                set.context_shapes.insert(shape);
            }
        }
    }
    let request = Request::new(p.clone(), a, r, ctx, None).map_err(invalid)?;
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

fn put_shape_str(shape: &mut Vec<u8>, s: &str) {
    shape.extend_from_slice(&(s.len() as u32).to_le_bytes());
    shape.extend_from_slice(s.as_bytes());
}

/// A context of strings, integers, booleans and sets of them, built without Cedar's JSON
/// parser (which tries every value shape in turn and is most of a decision's cost); its
/// shape (each key and the type of its value) is appended to `shape`. Its type is still
/// checked against the schema (see `prepare`). Anything else — records, entity
/// references, extension values, fractions — returns `None` and takes the full
/// schema-directed parse.
fn simple_context(v: &Value, shape: &mut Vec<u8>) -> Option<Context> {
    fn expr(v: &Value, shape: &mut Vec<u8>) -> Option<RestrictedExpression> {
        match v {
            Value::String(s) => {
                shape.push(b's');
                Some(RestrictedExpression::new_string(s.clone()))
            }
            Value::Bool(b) => {
                shape.push(b'b');
                Some(RestrictedExpression::new_bool(*b))
            }
            Value::Number(n) => {
                shape.push(b'l');
                n.as_i64().map(RestrictedExpression::new_long)
            }
            Value::Array(items) => {
                shape.push(b'[');
                let items = items
                    .iter()
                    .map(|v| expr(v, shape))
                    .collect::<Option<Vec<_>>>()?;
                shape.push(b']');
                Some(RestrictedExpression::new_set(items))
            }
            Value::Null | Value::Object(_) => None,
        }
    }
    let pairs = v
        .as_object()?
        .iter()
        .map(|(k, v)| {
            put_shape_str(shape, k);
            expr(v, shape).map(|e| (k.clone(), e))
        })
        .collect::<Option<Vec<_>>>()?;
    Context::from_pairs(pairs).ok()
}

/// Checks the request-scoped entities' limits before Cedar sees them: their count, each
/// one's JSON nesting, and the ancestry depth they reach (stored ancestors included).
fn check_request_entities(set: &CompiledSet, list: &[Value], at: &str) -> Result<()> {
    if list.len() > limits::MAX_REQUEST_ENTITIES {
        return Err(Error::invalid(format!(
            "{at}entities: at most {} request-scoped entities per request, got {}",
            limits::MAX_REQUEST_ENTITIES,
            list.len()
        )));
    }
    for (i, v) in list.iter().enumerate() {
        limits::check_input(v).map_err(|m| Error::invalid(format!("{at}entities[{i}]: {m}")))?;
    }
    let stored = |k: &(String, String)| set.depths.get(k).copied().unwrap_or(0);
    limits::entity_depths(list, stored)
        .map_err(|m| Error::invalid(format!("{at}entities: {m}")))?;
    Ok(())
}

/// The stored entities plus request-scoped ones, which may only add.
fn with_request_entities(set: &CompiledSet, list: &[Value], at: &str) -> Result<Entities> {
    check_request_entities(set, list, at)?;
    limits::on_cedar_stack(|| add_request_entities(set, list, at))
}

fn add_request_entities(set: &CompiledSet, list: &[Value], at: &str) -> Result<Entities> {
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
    e.render()
}

/// One request decided on `set`, as `POST /v1/authorize` decides it (not audited): for
/// policy tests.
pub(crate) fn decide_one(set: &CompiledSet, req: &AuthorizeRequest) -> Result<DecisionBody> {
    decide(set, req, "").map(|(_, d)| d)
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

/// Decides requests on the async worker, unless one brings request-scoped entities (adding
/// them clones the stored entities and computes their ancestry, work that grows with the
/// tenant's entity store) or the set is costly (see `CompiledSet::costly`): such work
/// belongs on a blocking thread.
async fn decide_all(
    set: Arc<CompiledSet>,
    reqs: Vec<AuthorizeRequest>,
    batch: bool,
) -> (
    Vec<AuthorizeRequest>,
    Result<Vec<(EntityUid, DecisionBody)>>,
) {
    let at = move |i: usize| {
        if batch {
            format!("requests[{i}].")
        } else {
            String::new()
        }
    };
    let costly = set.costly;
    let run = move |reqs: Vec<AuthorizeRequest>| {
        let started = std::time::Instant::now();
        let decided = reqs
            .iter()
            .enumerate()
            .map(|(i, r)| decide(&set, r, &at(i)))
            .collect::<Result<Vec<_>>>();
        metrics::histogram!("grantd_decision_evaluation_seconds")
            .record(started.elapsed().as_secs_f64());
        (reqs, decided)
    };
    let cheap = !costly
        && reqs
            .iter()
            .all(|r| r.entities.as_ref().is_none_or(Vec::is_empty));
    if cheap {
        return run(reqs);
    }
    match tokio::task::spawn_blocking(move || run(reqs)).await {
        Ok(done) => done,
        Err(e) => (Vec::new(), Err(Error::internal(e))),
    }
}

pub async fn authorize(
    s: &Services,
    caller: &Caller,
    req: AuthorizeRequest,
) -> Result<DecisionBody> {
    let set = s.policy_set(caller, req.min_policy_set_version).await?;
    let (mut reqs, decided) = decide_all(set, vec![req], false).await;
    let (principal, d) = decided?
        .pop()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("no decision")))?;
    let req = reqs
        .pop()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("no request")))?;
    s.audit
        .append(caller.tenant_id, event(s, caller, &principal, req, &d))
        .await?;
    Ok(d)
}

/// Decides up to 100 requests with one compiled set; every request is checked before any
/// is decided, and every decision is audited before the answer leaves. The set is at least
/// as recent as the largest `min_policy_set_version` of `batch_min` and the requests.
pub async fn authorize_batch(
    s: &Services,
    caller: &Caller,
    reqs: Vec<AuthorizeRequest>,
    batch_min: Option<i64>,
) -> Result<Vec<DecisionBody>> {
    if reqs.len() > MAX_BATCH {
        return Err(Error::invalid(format!(
            "requests: at most {MAX_BATCH} per batch, got {}",
            reqs.len()
        )));
    }
    let entities: usize = reqs
        .iter()
        .map(|r| r.entities.as_ref().map_or(0, Vec::len))
        .sum();
    if entities > limits::MAX_BATCH_ENTITIES {
        return Err(Error::invalid(format!(
            "requests: at most {} request-scoped entities over a whole batch, got {entities}",
            limits::MAX_BATCH_ENTITIES
        )));
    }
    let bringing = reqs
        .iter()
        .filter(|r| r.entities.as_ref().is_some_and(|e| !e.is_empty()))
        .count();
    if bringing > limits::MAX_BATCH_REQUESTS_WITH_ENTITIES {
        return Err(Error::invalid(format!(
            "requests: at most {} requests of a batch may bring request-scoped entities, got \
             {bringing}",
            limits::MAX_BATCH_REQUESTS_WITH_ENTITIES
        )));
    }
    let min = reqs
        .iter()
        .map(|r| r.min_policy_set_version)
        .fold(batch_min, Option::max);
    let set = s.policy_set(caller, min).await?;
    let (reqs, decided) = decide_all(set, reqs, true).await;
    let decided = decided?;
    let appends = decided.iter().zip(reqs).map(|((principal, d), r)| {
        s.audit
            .append(caller.tenant_id, event(s, caller, principal, r, d))
    });
    for r in futures_util::future::join_all(appends).await {
        r?;
    }
    Ok(decided.into_iter().map(|(_, d)| d).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cedar::engine::compile;
    use crate::store::TenantConfig;
    use serde_json::json;

    const SCHEMA: &str = r#"
        entity User;
        entity Color enum ["red", "blue"];
        entity App;
        action view appliesTo {
            principal: [User, Color], resource: [App],
            context: { n: Long, s?: String, tags: Set<String>, flag?: Bool, addr?: ipaddr }
        };
        action open appliesTo { principal: [User], resource: [App] };
    "#;

    fn set() -> CompiledSet {
        compile(TenantConfig {
            revision: 1,
            cedarschema: SCHEMA.into(),
            policies: Vec::new(),
            entities: Vec::new(),
        })
        .unwrap()
    }

    fn r(t: &str, id: &str) -> EntityRef {
        EntityRef {
            etype: t.into(),
            id: id.into(),
        }
    }

    /// What `prepare` answered before context shapes were remembered: the context built
    /// the same way, checked whole by `Request::new` with the schema.
    fn reference(
        set: &CompiledSet,
        p: &EntityRef,
        a: &EntityRef,
        context: Option<&Value>,
    ) -> std::result::Result<(), String> {
        let ctx = match context {
            None => Context::empty(),
            Some(c) => simple_context(c, &mut Vec::new()).expect("a simple context"),
        };
        Request::new(
            uid(p, "principal").unwrap(),
            uid(a, "action").unwrap(),
            uid(&r("App", "a1"), "resource").unwrap(),
            ctx,
            Some(&set.schema),
        )
        .map(|_| ())
        .map_err(|e| format!("request: {}", super::super::catalog::error_chain(&e)))
    }

    #[test]
    fn remembered_context_shapes_answer_as_the_full_check_does() {
        let contexts = [
            Some(json!({"n": 1, "tags": ["a"]})),
            Some(json!({"n": 2, "tags": ["b", "c"]})),
            Some(json!({"n": 3, "tags": []})),
            Some(json!({"n": "1", "tags": []})),
            Some(json!({"tags": ["a"]})),
            Some(json!({"n": 1, "tags": [1]})),
            Some(json!({"n": 1, "tags": ["a", 1]})),
            Some(json!({"n": 1, "tags": [], "x": 1})),
            Some(json!({"n": 1, "tags": ["a"], "flag": true})),
            Some(json!({"n": 1, "tags": ["a"], "flag": "true"})),
            Some(json!({"n": 1, "tags": ["a"], "addr": "10.0.0.1"})),
            Some(json!({"n": 1, "tags": ["a"], "s": "x"})),
            Some(json!({"n": 1, "tags": ["a"], "s": 5})),
            Some(json!({"tags": ["a"], "n": 1})),
            Some(json!({})),
            None,
        ];
        let principals = [
            r("User", "u1"),
            r("Color", "red"),
            r("Color", "green"),
            r("App", "a1"),
        ];
        let actions = [r("Action", "view"), r("Action", "open")];
        let mut cases = Vec::new();
        for c in &contexts {
            for p in &principals {
                for a in &actions {
                    cases.push((p, a, c.as_ref()));
                }
            }
        }
        let mut accepted = 0;
        // Forward, backward and forward again, each order on a fresh set and then on the
        // same one (every shape remembered): the answers never change.
        for order in 0..3 {
            let set = set();
            let mut list: Vec<_> = cases.clone();
            if order == 1 {
                list.reverse();
            }
            for round in 0..2 {
                for (p, a, c) in &list {
                    let want = reference(&set, p, a, *c);
                    let got = prepare(&set, p, a, &r("App", "a1"), *c, None, "")
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    let got = got.map_err(|m| m.trim_start_matches("invalid: ").to_string());
                    assert_eq!(
                        got.is_ok(),
                        want.is_ok(),
                        "order {order} round {round}: {p:?} {a:?} {c:?}: {got:?} vs {want:?}"
                    );
                    if let (Err(g), Err(w)) = (&got, &want) {
                        assert!(g.contains(w), "{g} does not say {w}");
                    }
                    accepted += usize::from(want.is_ok());
                }
            }
            assert!(!set.context_shapes.is_empty());
        }
        assert!(accepted > 0);
    }
}
