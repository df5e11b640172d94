//! SQL (SQLite dialect) for the checked grant filters of `domain::grant_query`. Every value
//! reaches the database as a bind parameter; the only text pushed into a query is fixed
//! column names and operators chosen by the `Cond` variant. `LIKE` patterns escape `%`,
//! `_` and `\` and say `ESCAPE '\'`.

use crate::clock::format_ts;
use crate::domain::grant_query::{
    like_pattern, Anchor, Cond, EntityCol, ScopeTest, SortOrder, StatusSet, TextCol, TextTest,
    TimeCol, TimeTest,
};
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

type Q<'a> = QueryBuilder<'a, Sqlite>;

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

fn push_list<T>(q: &mut Q<'_>, values: impl IntoIterator<Item = T>)
where
    T: for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite> + Send + 'static,
{
    q.push("(");
    let mut sep = q.separated(", ");
    for v in values {
        sep.push_bind(v);
    }
    q.push(")");
}

/// The effective status is in `set` at `now`.
fn push_status(q: &mut Q<'_>, set: StatusSet, now: &str) {
    if set.is_empty() {
        q.push("0");
        return;
    }
    if set == StatusSet::ALL {
        q.push("1");
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
            .push_bind(now.to_string())
            .push(")");
    }
    if set.contains(StatusSet::REVOKED) {
        or(q);
        q.push("g.status = 'REVOKED'");
    }
    if set.contains(StatusSet::EXPIRED) {
        or(q);
        q.push("g.status = 'EXPIRED' OR (g.status IN ('GRANTED', 'EXTENDED') AND g.expires_at <= ")
            .push_bind(now.to_string())
            .push(")");
    }
    if set.contains(StatusSet::PENDING_APPROVAL) {
        or(q);
        q.push("(g.status = 'PENDING_APPROVAL' AND g.expires_at > ")
            .push_bind(now.to_string())
            .push(")");
    }
    if set.contains(StatusSet::APPROVAL_EXPIRED) {
        or(q);
        q.push(
            "g.status = 'APPROVAL_EXPIRED' OR (g.status = 'PENDING_APPROVAL' AND g.expires_at <= ",
        )
        .push_bind(now.to_string())
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
            q.push("0");
        }
        TextTest::In(v) => {
            q.push(col).push(" IN ");
            push_list(q, v.clone());
        }
        TextTest::NotIn(v) if v.is_empty() => {
            q.push("1");
        }
        TextTest::NotIn(v) => {
            q.push("(");
            if c.nullable() {
                q.push(col).push(" IS NULL OR ");
            }
            q.push(col).push(" NOT IN ");
            push_list(q, v.clone());
            q.push(")");
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
            q.push(col)
                .push(if *negate { " NOT LIKE " } else { " LIKE " })
                .push_bind(like_pattern(needle, *anchor))
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
                        q.push(col).push(" >= ").push_bind(format_ts(f));
                    }
                    if from.is_some() && to.is_some() {
                        q.push(" AND ");
                    }
                    if let Some(t) = to {
                        q.push(col).push(" <= ").push_bind(format_ts(t));
                    }
                }
            }
            q.push(")");
        }
        TimeTest::In(v) if v.is_empty() => {
            q.push("0");
        }
        TimeTest::In(v) => {
            q.push(col).push(" IN ");
            push_list(q, v.iter().map(format_ts).collect::<Vec<_>>());
        }
        TimeTest::NotIn(v) if v.is_empty() => {
            q.push("1");
        }
        TimeTest::NotIn(v) => {
            q.push("(");
            if c.nullable() {
                q.push(col).push(" IS NULL OR ");
            }
            q.push(col).push(" NOT IN ");
            push_list(q, v.iter().map(format_ts).collect::<Vec<_>>());
            q.push(")");
        }
        TimeTest::Null(is_null) => {
            q.push(col)
                .push(if *is_null { " IS NULL" } else { " IS NOT NULL" });
        }
    }
}

/// How many of `values` (distinct) the grant's scopes hold.
fn push_scope_hits(q: &mut Q<'_>, values: &[String]) {
    q.push("(SELECT COUNT(DISTINCT s.value) FROM json_each(g.scopes) s WHERE s.value IN ");
    push_list(q, values.to_vec());
    q.push(")");
}

fn push_scopes(q: &mut Q<'_>, t: &ScopeTest) {
    match t {
        ScopeTest::All(v) | ScopeTest::NotAll(v) => {
            q.push(if matches!(t, ScopeTest::NotAll(_)) {
                "NOT ("
            } else {
                "("
            });
            push_scope_hits(q, v);
            q.push(" = ").push_bind(v.len() as i64).push(")");
        }
        ScopeTest::Any(v) | ScopeTest::NoneOf(v) => {
            q.push(if matches!(t, ScopeTest::NoneOf(_)) {
                "NOT EXISTS (SELECT 1 FROM json_each(g.scopes) s WHERE s.value IN "
            } else {
                "EXISTS (SELECT 1 FROM json_each(g.scopes) s WHERE s.value IN "
            });
            push_list(q, v.clone());
            q.push(")");
        }
        ScopeTest::Exactly(v) | ScopeTest::NotExactly(v) => {
            q.push(if matches!(t, ScopeTest::NotExactly(_)) {
                "NOT ("
            } else {
                "("
            });
            q.push("(SELECT COUNT(DISTINCT s.value) FROM json_each(g.scopes) s) = ")
                .push_bind(v.len() as i64)
                .push(" AND ");
            push_scope_hits(q, v);
            q.push(" = ").push_bind(v.len() as i64).push(")");
        }
        ScopeTest::Empty(empty) => {
            q.push(if *empty {
                "json_array_length(g.scopes) = 0"
            } else {
                "json_array_length(g.scopes) > 0"
            });
        }
    }
}

fn push_cond(q: &mut Q<'_>, tenant: &str, c: &Cond, now: &str) {
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
                q.push(if *negate { "1" } else { "0" });
                return;
            }
            // a flat row-value list: no expression depth grows with the number of values
            q.push("(").push(ty).push(", ").push(id).push(if *negate {
                ") NOT IN (VALUES "
            } else {
                ") IN (VALUES "
            });
            let mut sep = q.separated(", ");
            for e in values {
                sep.push("(")
                    .push_bind_unseparated(e.etype.clone())
                    .push_unseparated(", ")
                    .push_bind_unseparated(e.id.clone())
                    .push_unseparated(")");
            }
            q.push(")");
        }
        Cond::Policy { values, negate } => {
            // policy keys are never UUID-shaped, so a UUID names an id and anything else a key
            // (ids in their stored, hyphenated lower-case form)
            let (mut ids, mut keys) = (Vec::new(), Vec::new());
            for v in values {
                match v.parse::<uuid::Uuid>() {
                    Ok(id) => ids.push(id.to_string()),
                    Err(_) => keys.push(v.clone()),
                }
            }
            q.push(if *negate { "NOT (" } else { "(" });
            let mut any = false;
            if !ids.is_empty() {
                q.push("g.policy_id IN ");
                push_list(q, ids);
                any = true;
            }
            if !keys.is_empty() {
                if any {
                    q.push(" OR ");
                }
                q.push("g.policy_id IN (SELECT id FROM policies WHERE tenant_id = ")
                    .push_bind(tenant.to_string())
                    .push(" AND key IN ");
                push_list(q, keys);
                q.push(")");
                any = true;
            }
            if !any {
                q.push("0");
            }
            q.push(")");
        }
        Cond::Ids(ids) => {
            q.push("g.id IN ");
            push_list(q, ids.iter().map(|u| u.to_string()).collect::<Vec<_>>());
        }
        Cond::ReviewRequired(true) => {
            q.push("g.review_required = 1");
        }
        Cond::Approver { values, negate } => {
            q.push(if *negate { "NOT " } else { "" })
                .push("EXISTS (SELECT 1 FROM json_each(g.approval, '$.approvals') a WHERE json_extract(a.value, '$.approver') IN ");
            push_list(q, values.clone());
            q.push(")");
        }
        Cond::ReviewRequired(false) => {
            q.push("g.review_required = 0");
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
                q.push(*col)
                    .push(" LIKE ")
                    .push_bind(p.clone())
                    .push(" ESCAPE '\\'");
            }
            q.push(")");
        }
    }
}

/// ` WHERE g.tenant_id = ? AND <every condition>`.
pub(super) fn push_where(q: &mut Q<'_>, tenant: &str, conds: &[Cond], now: &DateTime<Utc>) {
    let now = format_ts(now);
    q.push(" WHERE g.tenant_id = ")
        .push_bind(tenant.to_string());
    for c in conds {
        q.push(" AND ");
        push_cond(q, tenant, c, &now);
    }
}

/// ` AND (sort, id) beyond the cursor`.
pub(super) fn push_after(q: &mut Q<'_>, sort: SortOrder, value: &DateTime<Utc>, id: &uuid::Uuid) {
    q.push(" AND (")
        .push(time_col(sort.col))
        .push(", g.id) ")
        .push(if sort.desc { "<" } else { ">" })
        .push(" (")
        .push_bind(format_ts(value))
        .push(", ")
        .push_bind(id.to_string())
        .push(")");
}

/// ` ORDER BY sort, id`.
/// ` ORDER BY sort, id`. With `via_index` false the sort terms are written `+col`, which
/// keeps SQLite from walking a sort index: for a small matching set it then reads the set
/// through the filters' best index and sorts it, instead of walking the whole sort order in
/// search of rare matches.
pub(super) fn push_order(q: &mut Q<'_>, sort: SortOrder, via_index: bool) {
    let dir = if sort.desc { " DESC" } else { " ASC" };
    let plus = if via_index { "" } else { "+" };
    q.push(" ORDER BY ")
        .push(plus)
        .push(time_col(sort.col))
        .push(dir)
        .push(", ")
        .push(plus)
        .push("g.id")
        .push(dir);
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
        let mut q = QueryBuilder::<Sqlite>::new("SELECT 1 FROM grants g");
        push_where(&mut q, evil, &conds, &now);
        push_after(
            &mut q,
            SortOrder {
                col: TimeCol::ExpiresAt,
                desc: false,
            },
            &now,
            &uuid::Uuid::nil(),
        );
        let sql = q.sql();
        for needle in ["DROP", "x'", "2026", "INACTIVE", "evil"] {
            assert!(!sql.contains(needle), "{needle} in {sql}");
        }
        // the only quoted literals are the fixed status names and the LIKE escape
        let literals: Vec<&str> = sql.split('\'').skip(1).step_by(2).collect();
        for l in literals {
            assert!(
                ["GRANTED", "EXTENDED", "REVOKED", "EXPIRED", "\\"].contains(&l),
                "{l}"
            );
        }
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;

    /// Both plans order by the same values (unary `+` only hides the column from the
    /// planner's index choice), with id as tie-break in the same direction.
    #[test]
    fn in_memory_and_index_orders_are_the_same_order() {
        let sort = SortOrder {
            col: TimeCol::ExpiresAt,
            desc: true,
        };
        let sql = |via_index| {
            let mut q = QueryBuilder::<Sqlite>::new("");
            push_order(&mut q, sort, via_index);
            q.sql().to_string()
        };
        assert_eq!(sql(true), " ORDER BY g.expires_at DESC, g.id DESC");
        assert_eq!(sql(false), " ORDER BY +g.expires_at DESC, +g.id DESC");
    }
}
