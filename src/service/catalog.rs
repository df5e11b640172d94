//! The tenant's Cedar schema and entity store. A schema change is refused when anything
//! stored would stop validating or when it drops what grantd fills in; entities are
//! validated against the schema before they are stored.

use super::policies::{check_policy, parse_stored, parse_stored_schema, stale_error, MAX_ATTEMPTS};
use super::Caller;
use crate::cedar::{limits, schema};
use crate::domain::audit::{Actor, EventKind, NewEvent, Subject};
use crate::domain::ids::TenantId;
use crate::domain::page::PageRequest;
use crate::error::{Error, Result};
use crate::store::{DynStore, EntityRow, WriteOutcome};
use cedar_policy::{Entities, EntityTypeName, EntityUid, Schema};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::str::FromStr;

pub const MAX_ENTITIES_PER_PUT: usize = 1000;

/// Everything stored that `schema` would break, as notices.
pub async fn breakage(store: &DynStore, tenant: TenantId, schema: &Schema) -> Result<Vec<String>> {
    Ok(check_schema(store, tenant, schema).await?.0)
}

/// What `schema` would break (as [`breakage`]) and the validator's warnings about the
/// stored policies' rules under it (`policy KEY: rule N: …`), from one validation.
pub async fn check_schema(
    store: &DynStore,
    tenant: TenantId,
    schema: &Schema,
) -> Result<(Vec<String>, Vec<super::lint::Warning>)> {
    let mut problems = schema::check_grantd_requirements(schema);
    let mut warnings = Vec::new();
    for policy in store.all_policies(tenant).await? {
        let assembled = parse_stored(&policy)?;
        let name = policy.key.clone().unwrap_or_else(|| policy.id.to_string());
        let (errors, cedar_warnings) = check_policy(schema, &policy, &assembled);
        problems.extend(errors.into_iter().map(|d| format!("policy {name}: {d}")));
        warnings.extend(
            super::lint::validator_warnings(&policy, cedar_warnings)
                .into_iter()
                .map(|mut w| {
                    w.message = format!("policy {name}: {}", w.message);
                    w
                }),
        );
    }
    let rows = store.all_entities(tenant).await?;
    if !rows.is_empty() {
        let list = rows_to_json(&rows)?;
        let loaded = limits::on_cedar_stack(|| {
            Entities::from_json_value(list, Some(schema)).map_err(|e| error_chain(&e))
        });
        if let Err(e) = loaded {
            problems.push(format!("stored entities: {e}"));
        }
    }
    Ok((problems, warnings))
}

/// An error with its causes, `: `-separated (Cedar's top-level messages are terse).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = c.source();
    }
    out
}

fn rows_to_json(rows: &[EntityRow]) -> Result<Value> {
    rows.iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).map_err(Error::internal))
        .collect::<Result<Vec<_>>>()
        .map(Value::Array)
}

pub async fn get_schema(store: &DynStore, tenant: TenantId) -> Result<String> {
    store.get_schema(tenant).await
}

/// A schema write's text, parsed (a 400 with Cedar's diagnostics if it does not parse).
pub fn parse_schema(text: &str) -> Result<Schema> {
    schema::parse(text)
        .map_err(|notices| Error::invalid_with_notices("the schema is not valid Cedar", notices))
}

/// [`check_schema`] as a schema write answers it: a 400 naming what `schema` would break,
/// else the validator's warnings about the stored rules under it.
pub async fn refuse_breakage(
    store: &DynStore,
    tenant: TenantId,
    schema: &Schema,
) -> Result<Vec<super::lint::Warning>> {
    let (problems, warnings) = check_schema(store, tenant, schema).await?;
    if !problems.is_empty() {
        return Err(Error::invalid_with_notices(
            format!(
                "the schema change is refused: it would break {} thing(s) (see notices)",
                problems.len()
            ),
            problems,
        ));
    }
    Ok(warnings)
}

/// Replaces the tenant's schema: the revision the write committed and the validator's
/// warnings about the stored rules under the new schema.
pub async fn put_schema(
    store: &DynStore,
    caller: &Caller,
    text: String,
    now: DateTime<Utc>,
) -> Result<(i64, Vec<super::lint::Warning>)> {
    let tenant = caller.tenant_id;
    let parsed = parse_schema(&text)?;
    for _ in 0..MAX_ATTEMPTS {
        let snap = store.config_snapshot(tenant).await?;
        let warnings = refuse_breakage(store, tenant, &parsed).await?;
        let event = NewEvent::new(
            now,
            caller.actor(),
            EventKind::SchemaUpdate,
            Subject::new("schema", tenant),
        )
        .with_request(json!({ "cedarschema": text }));
        match store
            .put_schema(tenant, snap.revision, &text, event)
            .await?
        {
            WriteOutcome::Committed(revision) => return Ok((revision, warnings)),
            _ => continue,
        }
    }
    Err(stale_error())
}

pub use crate::cedar::uid_text;

/// The uid of one entity of a PUT body, with the index for error messages.
fn entity_uid(i: usize, v: &Value) -> Result<(String, String)> {
    let uid = v
        .get("uid")
        .ok_or_else(|| Error::invalid(format!("[{i}].uid: required")))?;
    limits::json_uid(uid).ok_or_else(|| {
        Error::invalid(format!(
            "[{i}].uid: must be {{\"type\": string, \"id\": string}}"
        ))
    })
}

/// An entity's `(type, id)`.
pub type Uid = (String, String);

/// The entities of a `PUT /v1/entities` body, checked for shape and limits (nothing
/// read yet): the list and each entity's `(type, id)`.
pub fn entities_body(body: Value) -> Result<(Vec<Value>, Vec<Uid>)> {
    let Value::Array(list) = body else {
        return Err(Error::invalid(
            "the body must be a JSON array of Cedar entities [{\"uid\", \"attrs\", \"parents\"}]",
        ));
    };
    if list.len() > MAX_ENTITIES_PER_PUT {
        return Err(Error::invalid(format!(
            "at most {MAX_ENTITIES_PER_PUT} entities per request"
        )));
    }
    let mut uids = Vec::with_capacity(list.len());
    let mut seen = HashSet::new();
    for (i, v) in list.iter().enumerate() {
        limits::check_input(v).map_err(|m| Error::invalid(format!("[{i}]: {m}")))?;
        let uid = entity_uid(i, v)?;
        crate::domain::decision::check_entity_name(&uid.0, &uid.1)
            .map_err(|m| Error::invalid(format!("[{i}].uid: {m}")))?;
        if !seen.insert(uid.clone()) {
            return Err(Error::invalid(format!(
                "[{i}]: {} appears twice",
                uid_text(&uid.0, &uid.1)
            )));
        }
        uids.push(uid);
    }
    Ok((list, uids))
}

/// Checks entities (from [`entities_body`]) against `schema` and, together, with the
/// tenant's stored entities (`stored`, which they replace where they share a uid): the
/// rows to store, in body order, each with its uid.
pub async fn check_entities(
    schema: &Schema,
    list: &[Value],
    uids: &[(String, String)],
    stored: Vec<EntityRow>,
) -> Result<Vec<(EntityUid, EntityRow)>> {
    let declared: HashSet<String> = schema.entity_types().map(ToString::to_string).collect();
    for (i, (t, _)) in uids.iter().enumerate() {
        if !declared.contains(t) {
            return Err(Error::invalid(format!(
                "[{i}].uid.type: {t:?} is not an entity type of the tenant's schema"
            )));
        }
    }
    // Ancestry depth first, over the batch alone (the message names the batch's own
    // entity) and then with what is stored: Cedar's ancestry computation recurses.
    limits::entity_depths(list, |_| 0).map_err(Error::invalid)?;
    let entities = limits::on_cedar_stack(|| {
        Entities::from_json_value(Value::Array(list.to_vec()), Some(schema)).map_err(|e| {
            Error::invalid(format!(
                "the entities do not match the schema: {}",
                error_chain(&e)
            ))
        })
    })?;
    // The batch must also fit with what is stored: together they must still load (a
    // parent cycle spread over two writes would otherwise break every decision).
    let replaced: HashSet<&(String, String)> = uids.iter().collect();
    let mut combined: Vec<Value> = stored
        .into_iter()
        .filter(|r| !replaced.contains(&(r.etype.clone(), r.id.clone())))
        .map(|r| serde_json::from_str(&r.body).map_err(Error::internal))
        .collect::<Result<_>>()?;
    combined.extend(list.iter().cloned());
    limits::entity_depths(&combined, |_| 0)
        .map_err(|m| Error::invalid(format!("with the stored entities: {m}")))?;
    // Loading every stored entity grows with the tenant: a blocking thread's work.
    let combined_schema = schema.clone();
    tokio::task::spawn_blocking(move || {
        limits::on_cedar_stack(|| {
            Entities::from_json_value(Value::Array(combined), Some(&combined_schema))
                .map(drop)
                .map_err(|e| error_chain(&e))
        })
    })
    .await
    .map_err(Error::internal)?
    .map_err(|e| {
        Error::invalid(format!(
            "with the stored entities, these would not load: {e}"
        ))
    })?;
    let mut rows = Vec::with_capacity(uids.len());
    for (t, id) in uids {
        let uid = EntityUid::from_type_name_and_id(
            EntityTypeName::from_str(t).map_err(|e| Error::invalid(e.to_string()))?,
            cedar_policy::EntityId::new(id),
        );
        let entity = entities
            .get(&uid)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("validated entity {uid} missing")))?;
        let json = entity.to_json_value().map_err(Error::internal)?;
        rows.push((
            uid,
            EntityRow {
                etype: t.clone(),
                id: id.clone(),
                body: json.to_string(),
            },
        ));
    }
    Ok(rows)
}

/// Validates entities against the tenant's schema and upserts them. Returns how many, and
/// the revision the write committed.
pub async fn put_entities(
    store: &DynStore,
    tenant: TenantId,
    actor: Actor,
    body: Value,
    now: DateTime<Utc>,
) -> Result<(usize, i64)> {
    let (list, uids) = entities_body(body)?;
    for _ in 0..MAX_ATTEMPTS {
        let snap = store.config_snapshot(tenant).await?;
        let schema = parse_stored_schema(&snap.cedarschema)?;
        let stored = store.all_entities(tenant).await?;
        let checked = check_entities(&schema, &list, &uids, stored).await?;
        let mut rows = Vec::with_capacity(checked.len());
        let mut events = Vec::with_capacity(checked.len());
        for (uid, row) in checked {
            let json: Value = serde_json::from_str(&row.body).map_err(Error::internal)?;
            events.push(
                NewEvent::new(
                    now,
                    actor.clone(),
                    EventKind::EntitiesUpdate,
                    Subject::new("entity", &uid),
                )
                .with_request(json),
            );
            rows.push(row);
        }
        match store
            .upsert_entities(tenant, snap.revision, &rows, events)
            .await?
        {
            WriteOutcome::Committed(revision) => return Ok((rows.len(), revision)),
            _ => continue,
        }
    }
    Err(stale_error())
}

pub async fn list_entities(
    store: &DynStore,
    tenant: TenantId,
    etype: Option<&str>,
    page: &PageRequest,
) -> Result<(Vec<Value>, i64, Option<Value>)> {
    let after = match &page.after {
        None => None,
        Some(v) => match (
            v.get(0).and_then(Value::as_str),
            v.get(1).and_then(Value::as_str),
        ) {
            (Some(t), Some(i)) => Some((t.to_string(), i.to_string())),
            _ => return Err(Error::invalid("next_page_token is not valid for this list")),
        },
    };
    let (mut rows, total) = store
        .list_entities(tenant, etype, after, page.offset(), page.per_page + 1)
        .await?;
    let more = rows.len() as i64 > page.per_page;
    rows.truncate(page.per_page as usize);
    let next = if more {
        rows.last().map(|r| json!([r.etype, r.id]))
    } else {
        None
    };
    let items = rows
        .iter()
        .map(|r| serde_json::from_str(&r.body).map_err(Error::internal))
        .collect::<Result<Vec<Value>>>()?;
    Ok((items, total, next))
}

pub async fn delete_entity(
    store: &DynStore,
    caller: &Caller,
    etype: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let event = NewEvent::new(
        now,
        caller.actor(),
        EventKind::EntitiesDelete,
        Subject::new("entity", uid_text(etype, id)),
    );
    match store
        .delete_entity(caller.tenant_id, etype, id, event)
        .await?
    {
        WriteOutcome::Committed(revision) => Ok(revision),
        _ => Err(Error::not_found("no such entity")),
    }
}
