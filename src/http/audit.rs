//! `/v1/audit-events`: reading and verifying the tenant's audit chain.

use super::extract::{perm, Auth};
use super::AppState;
use crate::domain::audit::VerifyReport;
use crate::error::Result;
use axum::extract::State;
use axum::Json;

/// Recompute the tenant's hash chain and report the first event that was altered or whose
/// predecessor is missing. Record `head_hash` elsewhere to detect a rewritten tail later.
#[utoipa::path(get, path = "/v1/audit-events/verify", tag = "audit",
    responses((status = 200, description = "verification report", body = VerifyReport)))]
pub async fn verify(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadAudit>,
) -> Result<Json<VerifyReport>> {
    Ok(Json(
        state.services.store.verify_chain(caller.tenant_id).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// An event kind, e.g. `authorize`, `grant.request`.
    pub kind: Option<String>,
    /// Events at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Events before this RFC 3339 time.
    pub until: Option<String>,
    /// A subject id: a grant or policy id, `User::"alice"`, `T::"id"`, a key id.
    pub subject: Option<String>,
    /// `allow` or `deny`.
    pub decision: Option<String>,
    #[param(value_type = Option<u32>)]
    pub per_page: Option<String>,
    pub next_page_token: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct EventList {
    /// Events in `seq` (chronological) order.
    pub items: Vec<crate::domain::audit::AuditEvent>,
    pub per_page: i64,
    pub next_page_token: Option<String>,
}

fn filter(q: &EventQuery) -> Result<crate::store::EventFilter> {
    let ts = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                crate::clock::parse_ts(s).ok_or_else(|| {
                    crate::error::Error::invalid(format!("{field}: expected an RFC 3339 timestamp"))
                })
            })
            .transpose()
    };
    if let Some(k) = &q.kind {
        let kinds = crate::domain::audit::EventKind::ALL.map(|k| k.as_str());
        if !kinds.contains(&k.as_str()) {
            return Err(crate::error::Error::invalid(format!(
                "kind: unknown event kind {k:?}; one of {}",
                kinds.join(", ")
            )));
        }
    }
    if let Some(d) = &q.decision {
        if d != "allow" && d != "deny" {
            return Err(crate::error::Error::invalid("decision: allow or deny"));
        }
    }
    Ok(crate::store::EventFilter {
        kind: q.kind.clone(),
        since: ts("since", &q.since)?,
        until: ts("until", &q.until)?,
        subject: q.subject.clone(),
        decision: q.decision.clone(),
    })
}

/// Read the tenant's audit events, oldest first, filtered by kind, time, subject and
/// decision. Events are never changed or deleted through the API.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", operation_id = "list_audit_events", params(EventQuery),
    responses((status = 200, description = "a page of events", body = EventList)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadAudit>,
    super::extract::ApiQuery(q): super::extract::ApiQuery<EventQuery>,
) -> Result<Json<EventList>> {
    let s = &state.services;
    let f = filter(&q)?;
    let scope = format!(
        "audit-events:{}",
        serde_json::json!([q.kind, q.since, q.until, q.subject, q.decision])
    );
    let page = s
        .cursors
        .page_request(
            caller.tenant_id,
            &scope,
            q.per_page.as_deref(),
            None,
            q.next_page_token.as_deref(),
        )
        .map_err(crate::error::Error::invalid)?;
    let after = page.after.as_ref().and_then(serde_json::Value::as_i64);
    if page.after.is_some() && after.is_none() {
        return Err(crate::error::Error::invalid(
            "next_page_token is not valid for this list",
        ));
    }
    let mut items = s
        .store
        .list_events(caller.tenant_id, &f, after, page.per_page + 1)
        .await?;
    let more = items.len() as i64 > page.per_page;
    items.truncate(page.per_page as usize);
    let next_page_token = more.then(|| items.last()).flatten().map(|e| {
        s.cursors.encode(
            caller.tenant_id,
            &scope,
            &serde_json::json!(e.content.seq),
            page.page + 1,
        )
    });
    Ok(Json(EventList {
        items,
        per_page: page.per_page,
        next_page_token,
    }))
}
