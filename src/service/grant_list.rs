//! `POST /v1/grants/list` and `POST /v1/grants/revoke`: finding grants by the filter
//! language of `domain::grant_query`, and revoking every active one that matches.

use super::grants::{check_text, revoked};
use super::{Caller, Services};
use crate::clock::{format_ts, parse_ts};
use crate::domain::audit::{canonical_json, EventKind, NewEvent, Subject};
use crate::domain::grant::Grant;
use crate::domain::grant_query::{
    parse_filters, query_conds, After, FilterError, RawFilter, SortOrder, TimeCol, SORT_ORDERS,
};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The query string of `POST /v1/grants/list`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `GRANTED_AT_DESC` (default), `GRANTED_AT_ASC`, `EXPIRES_AT_ASC`, `EXPIRES_AT_DESC`,
    /// `CREATED_AT_ASC`, `CREATED_AT_DESC`, `UPDATED_AT_ASC`, `UPDATED_AT_DESC`; ties are
    /// broken by id in the same direction.
    pub sort_order: Option<String>,
    /// 1..=100, default 25.
    #[param(value_type = Option<u32>)]
    pub per_page: Option<String>,
    /// 1-based page number (ignored when `next_page_token` is given).
    #[param(value_type = Option<u32>)]
    pub page: Option<String>,
    /// The keyset cursor of the previous page; bound to the sort order, filters and
    /// selectors it was issued for (another query, or an altered token → 400).
    pub next_page_token: Option<String>,
    /// Comma-separated grant ids.
    pub ids: Option<String>,
    /// Free text (ASCII case ignored) over principal type and id, resource type and id,
    /// app and reason.
    pub search_key: Option<String>,
    /// The governing policy, by id or key.
    pub policy_id: Option<String>,
    /// The grant's app (bare `App` id).
    pub app_id: Option<String>,
}

/// A page of grants.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantPage {
    pub items: Vec<Grant>,
    pub page: i64,
    pub per_page: i64,
    /// How many grants matched when the walk began: counted on a page asked for without a
    /// token and carried by the tokens that follow it, so it stays what the walk started
    /// from even if grants change meanwhile.
    pub total: i64,
    /// The cursor of the next page; `null` on the last page.
    pub next_page_token: Option<String>,
}

/// Body of `POST /v1/grants/revoke`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRevokeBody {
    /// The same filter objects as `grants/list`, ANDed; at least one (to revoke every
    /// active grant of the tenant, say so: `status IS_ANY_OF ACTIVE`).
    pub filters: Vec<RawFilter>,
    /// Recorded on every revoked grant (`revoke_reason`) and its audit event.
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkRevokeResult {
    /// How many grants this call revoked.
    pub revoked: usize,
}

fn filter_error(e: FilterError) -> Error {
    Error::InvalidInput {
        message: e.to_string(),
        details: Some(json!({
            "filter": e.index,
            "attribute": e.attribute,
            "operator": e.operator,
        })),
        notices: Vec::new(),
    }
}

fn sort_value(g: &Grant, col: TimeCol) -> chrono::DateTime<chrono::Utc> {
    match col {
        TimeCol::GrantedAt => g.granted_at,
        TimeCol::ExpiresAt => g.expires_at,
        TimeCol::CreatedAt => g.created_at,
        TimeCol::UpdatedAt => g.updated_at,
        // no sort order uses these (SORT_ORDERS)
        TimeCol::LastUsedAt | TimeCol::RevokedAt => unreachable!("not a sort column"),
    }
}

/// `POST /v1/grants/list`.
pub async fn list(
    s: &Services,
    caller: &Caller,
    filters: Vec<RawFilter>,
    q: ListQuery,
) -> Result<GrantPage> {
    let now = s.clock.now();
    let mut conds = parse_filters(&filters, now).map_err(filter_error)?;
    conds.extend(
        query_conds(
            q.ids.as_deref(),
            q.search_key.as_deref(),
            q.policy_id.as_deref(),
            q.app_id.as_deref(),
        )
        .map_err(Error::invalid)?,
    );
    let sort = SortOrder::parse(q.sort_order.as_deref()).map_err(Error::invalid)?;
    let sort_name = SORT_ORDERS
        .iter()
        .find(|(_, o)| *o == sort)
        .map(|(n, _)| *n)
        .unwrap_or_default();
    // a cursor is valid only for the order, filters and selectors it came from (and, as
    // every cursor, for its tenant)
    let scope = format!(
        "grants:{}",
        canonical_json(&json!([
            sort_name,
            filters,
            q.ids,
            q.search_key,
            q.policy_id,
            q.app_id
        ]))
    );
    let page = s
        .cursors
        .page_request(
            caller.tenant_id,
            &scope,
            q.per_page.as_deref(),
            q.page.as_deref(),
            q.next_page_token.as_deref(),
        )
        .map_err(Error::invalid)?;
    // a token carries its position and the walk's `total`, counted on the page that began
    // the walk (so later pages do not count again, and `total` stays what the walk yields)
    let (after, carried_total) = match &page.after {
        None => (None, None),
        Some(v) => {
            let bad = || Error::invalid("next_page_token is not valid for this list");
            let value = v[0].as_str().and_then(parse_ts).ok_or_else(bad)?;
            let id = v[1].as_str().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            // a token without a total (issued before totals were carried) counts again
            let total = match &v[2] {
                Value::Null => None,
                t => Some(t.as_i64().filter(|n| *n >= 0).ok_or_else(bad)?),
            };
            (
                Some(After {
                    sort_value: value,
                    id,
                }),
                total,
            )
        }
    };
    let (mut items, total) = s
        .store
        .list_grants(
            caller.tenant_id,
            &conds,
            sort,
            after.as_ref(),
            page.offset(),
            page.per_page + 1,
            now,
            carried_total,
        )
        .await?;
    let more = items.len() as i64 > page.per_page;
    items.truncate(page.per_page as usize);
    let next_page_token = more.then(|| items.last()).flatten().map(|g| {
        s.cursors.encode(
            caller.tenant_id,
            &scope,
            &json!([format_ts(&sort_value(g, sort.col)), g.id.to_string(), total]),
            page.page + 1,
        )
    });
    Ok(GrantPage {
        items: items.into_iter().map(|g| g.at(now)).collect(),
        page: page.page,
        per_page: page.per_page,
        total,
        next_page_token,
    })
}

/// Grants revoked per transaction: large offboardings commit in steps this size, so other
/// writers wait at most one step.
pub const REVOKE_BATCH: i64 = 200;

/// Passes over the tenant's grants at most; the second normally finds nothing. A pass that
/// finds matching active grants it could not revoke (each lost its version race to a
/// concurrent write) is followed by another, after a short pause that grows.
const MAX_PASSES: usize = 16;

/// `POST /v1/grants/revoke`: revokes every grant that is active and matches, in batches of
/// [`REVOKE_BATCH`], each grant with its own `grant.revoke` event (its request names the
/// reason and the call's `bulk_id`). It walks the matching grants in id order, then walks
/// again until a pass finds nothing left: a grant committed late (with an id the walk had
/// passed) or changed while its batch was written is caught by the next pass. The call
/// answers 200 only after a pass found no matching active grant; if grants still match
/// after every pass, it answers 409 naming them (those revoked stay revoked). A failure
/// part-way leaves the batches already committed revoked (and audited); calling again
/// finishes the job.
pub async fn bulk_revoke(
    s: &Services,
    caller: &Caller,
    body: BulkRevokeBody,
) -> Result<BulkRevokeResult> {
    check_text("reason", Some(&body.reason))?;
    if body.reason.trim().is_empty() {
        return Err(Error::invalid("reason: must not be empty"));
    }
    if body.filters.is_empty() {
        return Err(Error::invalid(
            "filters: give at least one filter; to revoke every active grant, filter on status IS_ANY_OF ACTIVE",
        ));
    }
    let conds = parse_filters(&body.filters, s.clock.now()).map_err(filter_error)?;
    let reason = body.reason;
    let bulk_id = uuid::Uuid::now_v7();
    let mut total = 0;
    let mut left: Vec<uuid::Uuid> = Vec::new();
    for pass in 0..MAX_PASSES {
        if pass > 0 && !left.is_empty() {
            // Every grant left lost a race to another writer: let it finish first.
            tokio::time::sleep(std::time::Duration::from_millis(2 << pass.min(6))).await;
        }
        left.clear();
        let mut after = None;
        let mut this_pass = 0;
        loop {
            let now = s.clock.now();
            let revoke = |g: &Grant| {
                let next = revoked(g, caller, Some(reason.clone()), now);
                let event = NewEvent::new(
                    now,
                    caller.actor(),
                    EventKind::GrantRevoke,
                    Subject::new("grant", g.id),
                )
                .with_request(json!({"reason": reason, "bulk_id": bulk_id}));
                (next, event)
            };
            let (n, lost, last) = s
                .store
                .revoke_matching(caller.tenant_id, &conds, after, REVOKE_BATCH, now, &revoke)
                .await?;
            this_pass += n;
            left.extend(lost);
            match last {
                Some(l) => after = Some(l),
                None => break,
            }
        }
        total += this_pass;
        // Done when a whole pass found no matching active grant.
        if this_pass == 0 && left.is_empty() {
            return Ok(BulkRevokeResult { revoked: total });
        }
    }
    let why = if left.is_empty() {
        "new matching grants kept arriving".to_string()
    } else {
        format!(
            "{} matching grant(s) kept changing and are still active",
            left.len()
        )
    };
    Err(Error::Incomplete {
        message: format!(
            "{why} after {MAX_PASSES} passes; {total} were revoked; call again to finish"
        ),
        details: json!({"revoked": total, "remaining": left}),
    })
}
