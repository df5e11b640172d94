//! SQL (PostgreSQL dialect) for the checked grant filters of `domain::grant_query`: the
//! same conditions as the SQLite backend's `grant_sql`, with this engine's types (uuid,
//! timestamptz, the scopes as `jsonb`). Every value reaches the database as a bind
//! parameter; the only text pushed into a query is fixed column names and operators chosen
//! by the `Cond` variant. Text matches fold ASCII letters only, as SQLite's `LIKE` does
//! (both backends must answer alike; `ILIKE` would fold every letter): the column through
//! `translate` and the pattern in Rust, with `%`, `_` and `\` escaped.

use crate::domain::grant_query::{
    like_pattern, Anchor, Cond, EntityCol, ScopeTest, SortOrder, StatusSet, TextCol, TextTest,
    TimeCol, TimeTest,
};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

type Q<'a> = QueryBuilder<'a, Postgres>;

pub(super) fn time_col(c: TimeCol) -> &'static str {
    match c {
        TimeCol::GrantedAt => "g.granted_at",
        TimeCol::ExpiresAt => "g.expires_at",
        TimeCol::LastUsedAt => "g.last_used_at",
        TimeCol::RevokedAt => "g.revoked_at",
        TimeCol::CreatedAt => "g.created_at",
        TimeCol::UpdatedAt => "g.updated_at",
    }
}

fn text_col(c: TextCol) -> &'static str {
    match c {
        TextCol::PrincipalId => "g.principal_id",
        TextCol::ResourceId => "g.resource_id",
        TextCol::App => "g.app",
        TextCol::GrantedBy => "g.granted_by",
        TextCol::RequestedBy => "g.requested_by",
    }
}

/// The column with ASCII capitals lowered (and only those, like SQLite's `LIKE`).
fn push_folded(q: &mut Q<'_>, col: &str) {
    q.push("translate(")
        .push(col)
        .push(", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')");
}

/// ` = ANY($n)`: one array parameter, however many values.
fn push_any<T>(q: &mut Q<'_>, values: Vec<T>)
where
    Vec<T>: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
{
    q.push(" = ANY(").push_bind(values).push(")");
}

/// The effective status is in `set` at `now`.
fn push_status(q: &mut Q<'_>, set: StatusSet, now: DateTime<Utc>) {
    if set.is_empty() {
        q.push("FALSE");
        return;
    }
    if set == StatusSet::ALL {
        q.push("TRUE");
        return;
    }
    let mut parts = 0;
    q.push("(");
    let mut or = |q: &mut Q<'_>| {
        if parts > 0 {
            q.push(" OR ");
        }
        parts += 1;
    };
    let live = match (
        set.contains(StatusSet::GRANTED),
        set.contains(StatusSet::EXTENDED),
    ) {
        (true, true) => Some("g.status IN ('GRANTED', 'EXTENDED')"),
        (true, false) => Some("g.status = 'GRANTED'"),
        (false, true) => Some("g.status = 'EXTENDED'"),
        (false, false) => None,
    };
    if let Some(live) = live {
        or(q);
        q.push("(")
            .push(live)
            .push(" AND g.expires_at > ")
            .push_bind(now)
            .push(")");
    }
    if set.contains(StatusSet::REVOKED) {
        or(q);
        q.push("g.status = 'REVOKED'");
    }
    if set.contains(StatusSet::EXPIRED) {
        or(q);
        q.push("g.status = 'EXPIRED' OR (g.status IN ('GRANTED', 'EXTENDED') AND g.expires_at <= ")
            .push_bind(now)
            .push(")");
    }
    if set.contains(StatusSet::PENDING_APPROVAL) {
        or(q);
        q.push("(g.status = 'PENDING_APPROVAL' AND g.expires_at > ")
            .push_bind(now)
            .push(")");
    }
    if set.contains(StatusSet::APPROVAL_EXPIRED) {
        or(q);
        q.push(
            "g.status = 'APPROVAL_EXPIRED' OR (g.status = 'PENDING_APPROVAL' AND g.expires_at <= ",
        )
        .push_bind(now)
        .push(")");
    }
    if set.contains(StatusSet::DENIED) {
        or(q);
        q.push("g.status = 'DENIED'");
    }
    q.push(")");
}

fn push_text(q: &mut Q<'_>, c: TextCol, t: &TextTest) {
    let col = text_col(c);
    match t {
        TextTest::In(v) if v.is_empty() => {
            q.push("FALSE");
        }
        TextTest::In(v) => {
            q.push(col);
            push_any(q, v.clone());
        }
        TextTest::NotIn(v) if v.is_empty() => {
            q.push("TRUE");
        }
        TextTest::NotIn(v) => {
            q.push("(");
            if c.nullable() {
                q.push(col).push(" IS NULL OR ");
            }
            q.push("NOT (").push(col);
            push_any(q, v.clone());
            q.push("))");
        }
        TextTest::Like {
            needle,
            anchor,
            negate,
        } => {
            q.push("(");
            if *negate && c.nullable() {
                q.push(col).push(" IS NULL OR ");
            }
            push_folded(q, col);
            q.push(if *negate { " NOT LIKE " } else { " LIKE " })
                .push_bind(like_pattern(needle, *anchor).to_ascii_lowercase())
                .push(" ESCAPE '\\')");
        }
        TextTest::Null(is_null) => {
            q.push(col)
                .push(if *is_null { " IS NULL" } else { " IS NOT NULL" });
        }
    }
}

fn push_time(q: &mut Q<'_>, c: TimeCol, t: &TimeTest) {
    let col = time_col(c);
    match t {
        TimeTest::Range { from, to } => {
            q.push("(");
            match (from, to) {
                (None, None) => {
                    q.push(col).push(" IS NOT NULL");
                }
                (from, to) => {
                    if let Some(f) = from {
                        q.push(col).push(" >= ").push_bind(*f);
                    }
                    if from.is_some() && to.is_some() {
                        q.push(" AND ");
                    }
                    if let Some(t) = to {
                        q.push(col).push(" <= ").push_bind(*t);
                    }
                }
            }
            q.push(")");
        }
        TimeTest::In(v) if v.is_empty() => {
            q.push("FALSE");
        }
        TimeTest::In(v) => {
            q.push(col);
            push_any(q, v.clone());
        }
        TimeTest::NotIn(v) if v.is_empty() => {
            q.push("TRUE");
        }
        TimeTest::NotIn(v) => {
            q.push("(");
            if c.nullable() {
                q.push(col).push(" IS NULL OR ");
            }
            q.push("NOT (").push(col);
            push_any(q, v.clone());
            q.push("))");
        }
        TimeTest::Null(is_null) => {
            q.push(col)
                .push(if *is_null { " IS NULL" } else { " IS NOT NULL" });
        }
    }
}

/// The grant's scopes hold every one of `values` (`@>`, served by the GIN index).
fn push_contains_all(q: &mut Q<'_>, values: &[String]) {
    q.push("g.scopes @> ").push_bind(Json(values.to_vec()));
}

fn push_scopes(q: &mut Q<'_>, t: &ScopeTest) {
    match t {
        ScopeTest::All(v) | ScopeTest::NotAll(v) => {
            q.push(if matches!(t, ScopeTest::NotAll(_)) {
                "NOT ("
            } else {
                "("
            });
            push_contains_all(q, v);
            q.push(")");
        }
        ScopeTest::Any(v) | ScopeTest::NoneOf(v) => {
            q.push(if matches!(t, ScopeTest::NoneOf(_)) {
                "NOT (g.scopes ?| "
            } else {
                "(g.scopes ?| "
            });
            q.push_bind(v.clone()).push(")");
        }
        ScopeTest::Exactly(v) | ScopeTest::NotExactly(v) => {
            q.push(if matches!(t, ScopeTest::NotExactly(_)) {
                "NOT ("
            } else {
                "("
            });
            q.push("(SELECT COUNT(DISTINCT s) FROM jsonb_array_elements_text(g.scopes) s) = ")
                .push_bind(v.len() as i64)
                .push(" AND ");
            push_contains_all(q, v);
            q.push(")");
        }
        ScopeTest::Empty(empty) => {
            q.push(if *empty {
                "jsonb_array_length(g.scopes) = 0"
            } else {
                "jsonb_array_length(g.scopes) > 0"
            });
        }
    }
}

fn push_cond(q: &mut Q<'_>, tenant: Uuid, c: &Cond, now: DateTime<Utc>) {
    match c {
        Cond::Status(set) => push_status(q, *set, now),
        Cond::Text(col, t) => push_text(q, *col, t),
        Cond::Time(col, t) => push_time(q, *col, t),
        Cond::Scopes(t) => push_scopes(q, t),
        Cond::Entity {
            col,
            values,
            negate,
        } => {
            let (ty, id) = match col {
                EntityCol::Principal => ("g.principal_type", "g.principal_id"),
                EntityCol::Resource => ("g.resource_type", "g.resource_id"),
            };
            if values.is_empty() {
                q.push(if *negate { "TRUE" } else { "FALSE" });
                return;
            }
            // two parallel arrays: two parameters however many values
            let types: Vec<String> = values.iter().map(|e| e.etype.clone()).collect();
            let ids: Vec<String> = values.iter().map(|e| e.id.clone()).collect();
            q.push(if *negate { "NOT (" } else { "(" })
                .push("(")
                .push(ty)
                .push(", ")
                .push(id)
                .push(") IN (SELECT * FROM unnest(")
                .push_bind(types)
                .push("::text[], ")
                .push_bind(ids)
                .push("::text[])))");
        }
        Cond::Policy { values, negate } => {
            // policy keys are never UUID-shaped, so a UUID names an id and anything else a key
            let (mut ids, mut keys) = (Vec::new(), Vec::new());
            for v in values {
                match v.parse::<Uuid>() {
                    Ok(id) => ids.push(id),
                    Err(_) => keys.push(v.clone()),
                }
            }
            q.push(if *negate { "NOT (" } else { "(" });
            let mut any = false;
            if !ids.is_empty() {
                q.push("g.policy_id");
                push_any(q, ids);
                any = true;
            }
            if !keys.is_empty() {
                if any {
                    q.push(" OR ");
                }
                q.push("g.policy_id IN (SELECT id FROM policies WHERE tenant_id = ")
                    .push_bind(tenant)
                    .push(" AND key");
                push_any(q, keys);
                q.push(")");
                any = true;
            }
            if !any {
                q.push("FALSE");
            }
            q.push(")");
        }
        Cond::Ids(ids) => {
            q.push("g.id");
            push_any(q, ids.clone());
        }
        Cond::ReviewRequired(true) => {
            q.push("g.review_required");
        }
        Cond::ReviewRequired(false) => {
            q.push("NOT g.review_required");
        }
        Cond::Approver { values, negate } => {
            q.push(if *negate { "NOT " } else { "" })
                .push("EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE(g.approval->'approvals', '[]'::jsonb)) a WHERE a->>'approver'");
            push_any(q, values.clone());
            q.push(")");
        }
        Cond::Search(s) => {
            let p = like_pattern(s, Anchor::Anywhere);
            q.push("(");
            for (i, col) in [
                "g.principal_type",
                "g.principal_id",
                "g.resource_type",
                "g.resource_id",
                "g.app",
                "g.reason",
            ]
            .iter()
            .enumerate()
            {
                if i > 0 {
                    q.push(" OR ");
                }
                push_folded(q, col);
                q.push(" LIKE ")
                    .push_bind(p.to_ascii_lowercase())
                    .push(" ESCAPE '\\'");
            }
            q.push(")");
        }
    }
}

/// ` WHERE g.tenant_id = $n AND <every condition>`.
pub(super) fn push_where(q: &mut Q<'_>, tenant: Uuid, conds: &[Cond], now: DateTime<Utc>) {
    q.push(" WHERE g.tenant_id = ").push_bind(tenant);
    for c in conds {
        q.push(" AND ");
        push_cond(q, tenant, c, now);
    }
}

/// ` AND (sort, id) beyond the cursor`.
pub(super) fn push_after(q: &mut Q<'_>, sort: SortOrder, value: &DateTime<Utc>, id: &Uuid) {
    q.push(" AND (")
        .push(time_col(sort.col))
        .push(", g.id) ")
        .push(if sort.desc { "<" } else { ">" })
        .push(" (")
        .push_bind(*value)
        .push(", ")
        .push_bind(*id)
        .push(")");
}

/// ` ORDER BY sort, id` (every sort column is NOT NULL, so both engines order alike).
/// With `via_index` false the sort key is written `col + interval '0'`, which no index
/// provides: for a small matching set the planner then reads it through the filters' best
/// index and sorts it, instead of walking the whole sort order in search of rare matches
/// (what SQLite's `+col` does in the SQLite backend).
pub(super) fn push_order(q: &mut Q<'_>, sort: SortOrder, via_index: bool) {
    let dir = if sort.desc { " DESC" } else { " ASC" };
    q.push(" ORDER BY ").push(time_col(sort.col));
    if !via_index {
        q.push(" + interval '0'");
    }
    q.push(dir).push(", g.id").push(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No value of any condition ever appears in the SQL text: all are bound.
    #[test]
    fn values_are_bound_never_interpolated() {
        let evil = "x'); DROP TABLE grants; --";
        let now: DateTime<Utc> = "2026-01-10T12:00:00Z".parse().unwrap();
        let conds = crate::domain::grant_query::hostile_conditions(evil, now);
        let mut q = QueryBuilder::<Postgres>::new("SELECT 1 FROM grants g");
        push_where(&mut q, Uuid::nil(), &conds, now);
        push_after(
            &mut q,
            SortOrder {
                col: TimeCol::ExpiresAt,
                desc: false,
            },
            &now,
            &Uuid::nil(),
        );
        let sql = q.sql();
        for needle in ["DROP", "x'", "2026", "INACTIVE", "evil"] {
            assert!(!sql.contains(needle), "{needle} in {sql}");
        }
        let literals: Vec<&str> = sql.split('\'').skip(1).step_by(2).collect();
        for l in literals {
            assert!(
                [
                    "GRANTED",
                    "EXTENDED",
                    "REVOKED",
                    "EXPIRED",
                    "\\",
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                    "abcdefghijklmnopqrstuvwxyz",
                    "0"
                ]
                .contains(&l),
                "{l}"
            );
        }
    }
}
