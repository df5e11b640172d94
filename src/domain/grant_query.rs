//! The filter language of `POST /v1/grants/list` and `POST /v1/grants/revoke`.
//!
//! A request body is a list of `{"attribute", "operator", "values": [{"value": ..}]}` objects
//! (ANDed). Each one is parsed here, against the attribute it names, into a typed [`Cond`]:
//! an operator that does not fit the attribute, a wrong number of values or a value of the
//! wrong type is refused with a message naming the filter, its attribute and operator. The
//! store turns a `Cond` into SQL with bind parameters only; nothing here is SQL.
//!
//! Semantics worth knowing (also in the OpenAPI description):
//! - `status` is always the effective status (an active grant past `expires_at` is EXPIRED);
//!   buckets `ACTIVE` = GRANTED + EXTENDED, `INACTIVE` = REVOKED + EXPIRED.
//! - Every negative operator is the exact complement of its positive one, so a grant without
//!   a value (`app: null`) *does* match `app NOT_EQUALS "x"`; comparisons and ranges never
//!   match a missing value.
//! - Text operators (`CONTAINS`, `TEXT_CONTAINS`, `STARTS_WITH`, ...) ignore ASCII case; the
//!   equality operators compare exactly.
//! - `scopes` is a set: `CONTAINS` = has every value given, `IN`/`IS_ANY_OF` = has at least
//!   one, `EQUALS`/`IS_EXACTLY` = is exactly that set, `IS_NULL` = has no scopes.
//! - Timestamps are stored with microsecond precision; a bound with more digits is rounded
//!   to the equivalent microsecond bound (inclusive bounds are kept exact).

use super::decision::EntityRef;
use chrono::{DateTime, Duration, Months, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use uuid::Uuid;

/// At most this many filters in one body, and values in one filter.
pub const MAX_FILTERS: usize = 50;
pub const MAX_VALUES: usize = 1000;
/// At most this many values over all filters of one body (keeps every query far below the
/// database's limit on bound parameters).
pub const MAX_TOTAL_VALUES: usize = 5000;
/// At most this many characters in one text value of a filter (a pattern far longer than
/// any id or reason would only make the database's pattern matcher work for nothing).
pub const MAX_VALUE_CHARS: usize = 1000;

/// One filter object as sent.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    /// `status`, `user`, `principal`, `app`, `entitlement`, `entitlement_value`, `resource`,
    /// `policy`, `scopes`, `granted_by`, `requested_by`, `granted_at`, `expires_at`,
    /// `last_used_at` (alias `last_login_at`), `revoked_at`, `created_at`, `updated_at`,
    /// `review_required` (`true`/`false`, `EQUALS`/`NOT_EQUALS`), `approver` (a grant that
    /// needed approval and was approved by one of these users; `EQUALS`/`IS_EXACTLY`,
    /// `IN`/`IS_ANY_OF` and their negations).
    pub attribute: String,
    /// e.g. `IS_ANY_OF`, `IS_BETWEEN`, `IS_WITHIN`, `STARTS_WITH`, `IS_NULL`.
    pub operator: String,
    /// `[{"value": ..}]`; empty or absent for `IS_NULL` / `IS_NOT_NULL`.
    #[serde(default)]
    pub values: Option<Vec<RawValue>>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawValue {
    /// A string, or an integer for id attributes; an RFC 3339 timestamp for time
    /// attributes; an ISO 8601 duration such as `P7D` for `IS_WITHIN`.
    #[schema(value_type = Object)]
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Status,
    User,
    Principal,
    App,
    Entitlement,
    EntitlementValue,
    Resource,
    Policy,
    Scopes,
    GrantedBy,
    RequestedBy,
    GrantedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
    UpdatedAt,
    ReviewRequired,
    Approver,
}

const ATTRIBUTES: [(&str, Attribute); 20] = [
    ("status", Attribute::Status),
    ("user", Attribute::User),
    ("principal", Attribute::Principal),
    ("app", Attribute::App),
    ("entitlement", Attribute::Entitlement),
    ("entitlement_value", Attribute::EntitlementValue),
    ("resource", Attribute::Resource),
    ("policy", Attribute::Policy),
    ("scopes", Attribute::Scopes),
    ("granted_by", Attribute::GrantedBy),
    ("requested_by", Attribute::RequestedBy),
    ("granted_at", Attribute::GrantedAt),
    ("expires_at", Attribute::ExpiresAt),
    ("last_used_at", Attribute::LastUsedAt),
    ("last_login_at", Attribute::LastUsedAt),
    ("revoked_at", Attribute::RevokedAt),
    ("created_at", Attribute::CreatedAt),
    ("updated_at", Attribute::UpdatedAt),
    ("review_required", Attribute::ReviewRequired),
    ("approver", Attribute::Approver),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    NotEquals,
    IsExactly,
    In,
    NotIn,
    IsBetween,
    IsOnOrBefore,
    IsOnOrAfter,
    IsWithin,
    GreaterThan,
    LessThan,
    GreaterThanEquals,
    LessThanEquals,
    Contains,
    NotContains,
    TextContains,
    TextDoesNotContain,
    StartsWith,
    EndsWith,
    IsNull,
    IsNotNull,
}

pub const OPERATORS: [(&str, Operator); 23] = [
    ("EQUALS", Operator::Equals),
    ("NOT_EQUALS", Operator::NotEquals),
    ("IS_EXACTLY", Operator::IsExactly),
    ("IN", Operator::In),
    ("IS_ANY_OF", Operator::In),
    ("NOT_IN", Operator::NotIn),
    ("IS_NOT_ANY_OF", Operator::NotIn),
    ("IS_BETWEEN", Operator::IsBetween),
    ("IS_ON_OR_BEFORE", Operator::IsOnOrBefore),
    ("IS_ON_OR_AFTER", Operator::IsOnOrAfter),
    ("IS_WITHIN", Operator::IsWithin),
    ("GREATER_THAN", Operator::GreaterThan),
    ("LESS_THAN", Operator::LessThan),
    ("GREATER_THAN_EQUALS", Operator::GreaterThanEquals),
    ("LESS_THAN_EQUALS", Operator::LessThanEquals),
    ("CONTAINS", Operator::Contains),
    ("NOT_CONTAINS", Operator::NotContains),
    ("TEXT_CONTAINS", Operator::TextContains),
    ("TEXT_DOES_NOT_CONTAINS", Operator::TextDoesNotContain),
    ("STARTS_WITH", Operator::StartsWith),
    ("ENDS_WITH", Operator::EndsWith),
    ("IS_NULL", Operator::IsNull),
    ("IS_NOT_NULL", Operator::IsNotNull),
];

/// Names of every attribute (including the alias), for messages and tests.
pub fn attribute_names() -> impl Iterator<Item = &'static str> {
    ATTRIBUTES.iter().map(|(n, _)| *n)
}

/// Names of every operator (including the aliases), for messages and tests.
pub fn operator_names() -> impl Iterator<Item = &'static str> {
    OPERATORS.iter().map(|(n, _)| *n)
}

/// The effective statuses a status filter admits, as a bit set over
/// GRANTED, EXTENDED, REVOKED, EXPIRED, PENDING_APPROVAL, APPROVAL_EXPIRED, DENIED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusSet(u8);

impl StatusSet {
    pub const GRANTED: StatusSet = StatusSet(1);
    pub const EXTENDED: StatusSet = StatusSet(2);
    pub const REVOKED: StatusSet = StatusSet(4);
    pub const EXPIRED: StatusSet = StatusSet(8);
    pub const PENDING_APPROVAL: StatusSet = StatusSet(16);
    pub const APPROVAL_EXPIRED: StatusSet = StatusSet(32);
    pub const DENIED: StatusSet = StatusSet(64);
    pub const ACTIVE: StatusSet = StatusSet(3);
    /// The bucket `INACTIVE` of the contract: REVOKED and EXPIRED (the approval statuses
    /// are asked for by name).
    pub const INACTIVE: StatusSet = StatusSet(12);
    pub const ALL: StatusSet = StatusSet(127);

    pub fn union(self, o: StatusSet) -> StatusSet {
        StatusSet(self.0 | o.0)
    }
    pub fn intersect(self, o: StatusSet) -> StatusSet {
        StatusSet(self.0 & o.0)
    }
    pub fn complement(self) -> StatusSet {
        StatusSet(!self.0 & 127)
    }
    pub fn contains(self, o: StatusSet) -> bool {
        self.0 & o.0 == o.0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn parse(s: &str) -> Option<StatusSet> {
        Some(match s {
            "ACTIVE" => Self::ACTIVE,
            "INACTIVE" => Self::INACTIVE,
            "GRANTED" => Self::GRANTED,
            "EXTENDED" => Self::EXTENDED,
            "REVOKED" => Self::REVOKED,
            "EXPIRED" => Self::EXPIRED,
            "PENDING_APPROVAL" => Self::PENDING_APPROVAL,
            "APPROVAL_EXPIRED" => Self::APPROVAL_EXPIRED,
            "DENIED" => Self::DENIED,
            _ => return None,
        })
    }
}

/// Text columns of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextCol {
    /// The principal's id (`user`).
    PrincipalId,
    /// The resource's id (`entitlement`, `entitlement_value`).
    ResourceId,
    App,
    GrantedBy,
    RequestedBy,
}

impl TextCol {
    pub fn nullable(self) -> bool {
        matches!(
            self,
            TextCol::App | TextCol::GrantedBy | TextCol::RequestedBy
        )
    }
}

/// Where a text pattern must occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Anywhere,
    Start,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextTest {
    /// Equals one of the values.
    In(Vec<String>),
    /// Equals none of the values (a missing value matches).
    NotIn(Vec<String>),
    /// Contains `needle` at `anchor`, ignoring ASCII case; `negate` is the complement (a
    /// missing value matches the negation).
    Like {
        needle: String,
        anchor: Anchor,
        negate: bool,
    },
    Null(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityCol {
    Principal,
    Resource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeCol {
    GrantedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
    UpdatedAt,
}

impl TimeCol {
    pub fn nullable(self) -> bool {
        matches!(self, TimeCol::LastUsedAt | TimeCol::RevokedAt)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeTest {
    /// Both bounds inclusive, at microsecond precision; a missing value never matches.
    Range {
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    },
    In(Vec<DateTime<Utc>>),
    /// A missing value matches.
    NotIn(Vec<DateTime<Utc>>),
    Null(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeTest {
    /// Has every value (`CONTAINS`).
    All(Vec<String>),
    /// Lacks at least one value (`NOT_CONTAINS`).
    NotAll(Vec<String>),
    /// Has at least one value (`IN`, `IS_ANY_OF`).
    Any(Vec<String>),
    /// Has none of the values (`NOT_IN`, `IS_NOT_ANY_OF`).
    NoneOf(Vec<String>),
    /// Is exactly this set (`EQUALS`, `IS_EXACTLY`); values are deduplicated.
    Exactly(Vec<String>),
    NotExactly(Vec<String>),
    /// Has no scopes (`IS_NULL`) / has some (`IS_NOT_NULL`).
    Empty(bool),
}

/// One checked condition on a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The effective status is in the set.
    Status(StatusSet),
    Text(TextCol, TextTest),
    /// The entity (type and id) is / is not one of these.
    Entity {
        col: EntityCol,
        values: Vec<EntityRef>,
        negate: bool,
    },
    /// The governing policy, by id (UUID) or key, is / is not one of these.
    Policy {
        values: Vec<String>,
        negate: bool,
    },
    Scopes(ScopeTest),
    Time(TimeCol, TimeTest),
    /// The grant id is one of these (`ids=`).
    Ids(Vec<Uuid>),
    /// Free text over principal, resource, app and reason, ignoring ASCII case
    /// (`search_key=`).
    Search(String),
    /// A re-evaluation flagged it (`true`) or not (`false`).
    ReviewRequired(bool),
    /// An approval of the grant was given by one of these users (`negate`: by none).
    Approver {
        values: Vec<String>,
        negate: bool,
    },
}

/// A filter that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub index: usize,
    pub attribute: String,
    pub operator: String,
    pub problem: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "filters[{}] (attribute {:?}, operator {:?}): {}",
            self.index, self.attribute, self.operator, self.problem
        )
    }
}

/// The sort orders of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortOrder {
    pub col: TimeCol,
    pub desc: bool,
}

pub const SORT_ORDERS: [(&str, SortOrder); 8] = [
    ("GRANTED_AT_DESC", SortOrder::new(TimeCol::GrantedAt, true)),
    ("GRANTED_AT_ASC", SortOrder::new(TimeCol::GrantedAt, false)),
    ("EXPIRES_AT_ASC", SortOrder::new(TimeCol::ExpiresAt, false)),
    ("EXPIRES_AT_DESC", SortOrder::new(TimeCol::ExpiresAt, true)),
    ("CREATED_AT_ASC", SortOrder::new(TimeCol::CreatedAt, false)),
    ("CREATED_AT_DESC", SortOrder::new(TimeCol::CreatedAt, true)),
    ("UPDATED_AT_ASC", SortOrder::new(TimeCol::UpdatedAt, false)),
    ("UPDATED_AT_DESC", SortOrder::new(TimeCol::UpdatedAt, true)),
];

impl SortOrder {
    pub const fn new(col: TimeCol, desc: bool) -> Self {
        SortOrder { col, desc }
    }

    /// `GRANTED_AT_DESC` when absent.
    pub fn parse(s: Option<&str>) -> Result<SortOrder, String> {
        let s = s.unwrap_or("GRANTED_AT_DESC");
        SORT_ORDERS
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, o)| *o)
            .ok_or_else(|| {
                format!(
                    "sort_order: unknown order {s:?}; one of {}",
                    SORT_ORDERS.map(|(n, _)| n).join(", ")
                )
            })
    }
}

/// The position of a keyset cursor: the sort value and id of the last grant returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub sort_value: DateTime<Utc>,
    pub id: Uuid,
}

/// Escapes `\`, `%` and `_` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `LIKE` pattern (with `\` as escape) that finds `needle` at `anchor`.
pub fn like_pattern(needle: &str, anchor: Anchor) -> String {
    let e = like_escape(needle);
    match anchor {
        Anchor::Anywhere => format!("%{e}%"),
        Anchor::Start => format!("{e}%"),
        Anchor::End => format!("%{e}"),
    }
}

/// Parses an ISO 8601 duration (`P7D`, `PT12H`, `P1Y2M10DT2H30M`, `P2W`, `PT0.5S`) into
/// calendar months and an exact span.
pub fn parse_iso_duration(s: &str) -> Option<(u32, Duration)> {
    let rest = s.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return None;
            }
            (d, Some(t))
        }
        None => (rest, None),
    };
    let mut months: u64 = 0;
    let mut span = Duration::zero();
    let mut components = 0;
    // each part: digits (and for seconds an optional fraction) followed by a unit letter,
    // units in the order ISO 8601 prescribes
    fn parts(s: &str, units: &str) -> Option<Vec<(char, String)>> {
        let mut out: Vec<(char, String)> = Vec::new();
        let mut num = String::new();
        let mut last_unit = None;
        for c in s.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                num.push(if c == ',' { '.' } else { c });
            } else {
                let pos = units.find(c)?;
                if num.is_empty() || last_unit.is_some_and(|l| pos <= l) {
                    return None;
                }
                last_unit = Some(pos);
                out.push((c, std::mem::take(&mut num)));
            }
        }
        if !num.is_empty() {
            return None;
        }
        Some(out)
    }
    let int = |n: &str| -> Option<i64> {
        if n.contains('.') || n.len() > 12 {
            None
        } else {
            n.parse().ok()
        }
    };
    for (unit, n) in parts(date, "YMWD")? {
        components += 1;
        let v = int(&n)?;
        match unit {
            'Y' => months = months.checked_add(u64::try_from(v).ok()?.checked_mul(12)?)?,
            'M' => months = months.checked_add(u64::try_from(v).ok()?)?,
            'W' => span = span.checked_add(&Duration::try_weeks(v)?)?,
            _ => span = span.checked_add(&Duration::try_days(v)?)?,
        }
    }
    if let Some(time) = time {
        for (unit, n) in parts(time, "HMS")? {
            components += 1;
            match unit {
                'H' => span = span.checked_add(&Duration::try_hours(int(&n)?)?)?,
                'M' => span = span.checked_add(&Duration::try_minutes(int(&n)?)?)?,
                _ => {
                    let (whole, frac) = n.split_once('.').unwrap_or((&n, ""));
                    if whole.is_empty() || frac.len() > 6 || frac.contains('.') {
                        return None;
                    }
                    span = span.checked_add(&Duration::try_seconds(int(whole)?)?)?;
                    if !frac.is_empty() {
                        let micros: i64 = format!("{frac:0<6}").parse().ok()?;
                        span = span.checked_add(&Duration::microseconds(micros))?;
                    }
                }
            }
        }
    }
    if components == 0 {
        return None;
    }
    // at most 100 years either way: beyond that no grant can exist
    let months = u32::try_from(months).ok().filter(|m| *m <= 1200)?;
    if span > Duration::days(36_600) {
        return None;
    }
    Some((months, span))
}

fn floor_us(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn ceil_us(t: DateTime<Utc>) -> DateTime<Utc> {
    let f = t.trunc_subsecs(6);
    if f == t {
        f
    } else {
        f + Duration::microseconds(1)
    }
}

fn exact_us(t: DateTime<Utc>) -> bool {
    t.trunc_subsecs(6) == t
}

/// Parses the body of a list or bulk revoke. `now` resolves `IS_WITHIN` and is the instant
/// effective statuses are judged at.
pub fn parse_filters(filters: &[RawFilter], now: DateTime<Utc>) -> Result<Vec<Cond>, FilterError> {
    if filters.len() > MAX_FILTERS {
        return Err(FilterError {
            index: MAX_FILTERS,
            attribute: String::new(),
            operator: String::new(),
            problem: format!("at most {MAX_FILTERS} filters may be combined"),
        });
    }
    let mut seen = 0;
    for (i, f) in filters.iter().enumerate() {
        seen += f.values.as_ref().map_or(0, Vec::len);
        if seen > MAX_TOTAL_VALUES {
            return Err(FilterError {
                index: i,
                attribute: f.attribute.clone(),
                operator: f.operator.clone(),
                problem: format!("at most {MAX_TOTAL_VALUES} values over all filters"),
            });
        }
    }
    filters
        .iter()
        .enumerate()
        .map(|(i, f)| {
            parse_filter(f, now).map_err(|problem| FilterError {
                index: i,
                attribute: f.attribute.clone(),
                operator: f.operator.clone(),
                problem,
            })
        })
        .collect()
}

/// The entry of a name table, or a message listing the names it knows.
fn lookup<T: Copy>(table: &[(&'static str, T)], name: &str, what: &str) -> Result<T, String> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            format!("unknown {what}; one of {}", names.join(", "))
        })
}

fn parse_filter(f: &RawFilter, now: DateTime<Utc>) -> Result<Cond, String> {
    let attr = lookup(&ATTRIBUTES, &f.attribute, "attribute")?;
    let op = lookup(&OPERATORS, &f.operator, "operator")?;
    let values: Vec<&Value> = f
        .values
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|v| &v.value)
        .collect();
    if values.len() > MAX_VALUES {
        return Err(format!("at most {MAX_VALUES} values per filter"));
    }
    if let Some(i) = values.iter().position(|v| {
        v.as_str()
            .is_some_and(|s| s.chars().count() > MAX_VALUE_CHARS)
    }) {
        return Err(format!(
            "values[{i}]: at most {MAX_VALUE_CHARS} characters per value"
        ));
    }
    use Attribute as A;
    match attr {
        A::Status => status_cond(op, &values),
        A::User | A::App | A::Entitlement | A::EntitlementValue | A::GrantedBy | A::RequestedBy => {
            let col = match attr {
                A::User => TextCol::PrincipalId,
                A::App => TextCol::App,
                A::GrantedBy => TextCol::GrantedBy,
                A::RequestedBy => TextCol::RequestedBy,
                _ => TextCol::ResourceId,
            };
            text_cond(&f.attribute, col, op, &values)
        }
        A::Principal => entity_cond(EntityCol::Principal, op, &values),
        A::Resource => entity_cond(EntityCol::Resource, op, &values),
        A::Policy => policy_cond(op, &values),
        A::Scopes => scope_cond(op, &values),
        A::GrantedAt => time_cond(TimeCol::GrantedAt, op, &values, now),
        A::ExpiresAt => time_cond(TimeCol::ExpiresAt, op, &values, now),
        A::LastUsedAt => time_cond(TimeCol::LastUsedAt, op, &values, now),
        A::RevokedAt => time_cond(TimeCol::RevokedAt, op, &values, now),
        A::CreatedAt => time_cond(TimeCol::CreatedAt, op, &values, now),
        A::UpdatedAt => time_cond(TimeCol::UpdatedAt, op, &values, now),
        A::ReviewRequired => flag_cond(op, &values),
        A::Approver => approver_cond(op, &values),
    }
}

/// `approver EQUALS | IN "alice"` (or the negations): who approved the grant.
fn approver_cond(op: Operator, values: &[&Value]) -> Result<Cond, String> {
    use Operator::*;
    if !matches!(op, Equals | NotEquals | IsExactly | In | NotIn) {
        return Err(not_for(
            "approver",
            op,
            "EQUALS, NOT_EQUALS, IS_EXACTLY, IN, IS_ANY_OF, NOT_IN, IS_NOT_ANY_OF",
        ));
    }
    check_arity(op, values, false)?;
    let values = values
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("value {v} is not a string (a user id)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Cond::Approver {
        values,
        negate: matches!(op, NotEquals | NotIn),
    })
}

/// `review_required EQUALS true` (or `false`; `NOT_EQUALS` turns it around).
fn flag_cond(op: Operator, values: &[&Value]) -> Result<Cond, String> {
    use Operator::*;
    if !matches!(op, Equals | NotEquals) {
        return Err(not_for("review_required", op, "EQUALS, NOT_EQUALS"));
    }
    check_arity(op, values, false)?;
    let want = match values.first().map(|v| (*v).clone()) {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        other => {
            return Err(format!(
                "value {} is not a boolean (true or false)",
                other.unwrap_or(Value::Null)
            ))
        }
    };
    Ok(Cond::ReviewRequired(want == (op == Equals)))
}

/// How many values an operator takes: `(min, max)`.
fn arity(op: Operator) -> (usize, usize) {
    use Operator::*;
    match op {
        Equals | NotEquals | IsOnOrBefore | IsOnOrAfter | IsWithin | GreaterThan | LessThan
        | GreaterThanEquals | LessThanEquals | TextContains | TextDoesNotContain | StartsWith
        | EndsWith => (1, 1),
        IsBetween => (2, 2),
        IsNull | IsNotNull => (0, 0),
        IsExactly | In | NotIn | Contains | NotContains => (1, MAX_VALUES),
    }
}

fn check_arity(op: Operator, values: &[&Value], is_set: bool) -> Result<(), String> {
    let (min, mut max) = arity(op);
    // scalars: IS_EXACTLY is EQUALS, CONTAINS is a substring: one value each
    if !is_set
        && matches!(
            op,
            Operator::IsExactly | Operator::Contains | Operator::NotContains
        )
    {
        max = 1;
    }
    // on a set, EQUALS / NOT_EQUALS compare whole sets
    if is_set && matches!(op, Operator::Equals | Operator::NotEquals) {
        max = MAX_VALUES;
    }
    let n = values.len();
    if n < min || n > max {
        let want = match (min, max) {
            (0, 0) => "no values (an empty or absent values array)".to_string(),
            (a, b) if a == b => format!("exactly {a} value{}", if a == 1 { "" } else { "s" }),
            (a, _) => format!("at least {a} value"),
        };
        return Err(format!("takes {want}, got {n}"));
    }
    Ok(())
}

fn not_for(attr: &str, op: Operator, fits: &str) -> String {
    let name = OPERATORS
        .iter()
        .find(|(_, o)| *o == op)
        .map(|(n, _)| *n)
        .unwrap_or("?");
    format!("{name} does not apply to {attr}; {attr} takes {fits}")
}

const EQUALITY_OPS: &str = "EQUALS, NOT_EQUALS, IS_EXACTLY, IN, IS_ANY_OF, NOT_IN, IS_NOT_ANY_OF";

fn status_cond(op: Operator, values: &[&Value]) -> Result<Cond, String> {
    use Operator::*;
    if !matches!(op, Equals | NotEquals | IsExactly | In | NotIn) {
        return Err(not_for("status", op, EQUALITY_OPS));
    }
    check_arity(op, values, false)?;
    let mut set = StatusSet::default();
    for v in values {
        let s = v.as_str().and_then(StatusSet::parse).ok_or_else(|| {
            format!(
                "value {v} is not a status; one of ACTIVE, INACTIVE, GRANTED, EXTENDED, REVOKED, EXPIRED, PENDING_APPROVAL, APPROVAL_EXPIRED, DENIED"
            )
        })?;
        set = set.union(s);
    }
    Ok(Cond::Status(if matches!(op, NotEquals | NotIn) {
        set.complement()
    } else {
        set
    }))
}

/// An id-like value: a string, or an integer (written in decimal).
fn id_value(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        other => Err(format!("value {other} is not a string or an integer")),
    }
}

fn text_cond(name: &str, col: TextCol, op: Operator, values: &[&Value]) -> Result<Cond, String> {
    use Operator::*;
    let fits = if col.nullable() {
        format!("{EQUALITY_OPS}, CONTAINS, NOT_CONTAINS, TEXT_CONTAINS, TEXT_DOES_NOT_CONTAINS, STARTS_WITH, ENDS_WITH, IS_NULL, IS_NOT_NULL")
    } else {
        format!("{EQUALITY_OPS}, CONTAINS, NOT_CONTAINS, TEXT_CONTAINS, TEXT_DOES_NOT_CONTAINS, STARTS_WITH, ENDS_WITH (it is never null)")
    };
    let test = match op {
        Equals | IsExactly | In | NotEquals | NotIn => {
            check_arity(op, values, false)?;
            let vals = values
                .iter()
                .map(|v| id_value(v))
                .collect::<Result<_, _>>()?;
            if matches!(op, NotEquals | NotIn) {
                TextTest::NotIn(vals)
            } else {
                TextTest::In(vals)
            }
        }
        Contains | NotContains | TextContains | TextDoesNotContain | StartsWith | EndsWith => {
            check_arity(op, values, false)?;
            let needle = id_value(values[0])?;
            if needle.is_empty() {
                return Err("needs a non-empty string".into());
            }
            let anchor = match op {
                StartsWith => Anchor::Start,
                EndsWith => Anchor::End,
                _ => Anchor::Anywhere,
            };
            TextTest::Like {
                needle,
                anchor,
                negate: matches!(op, NotContains | TextDoesNotContain),
            }
        }
        IsNull | IsNotNull if col.nullable() => {
            check_arity(op, values, false)?;
            TextTest::Null(op == IsNull)
        }
        _ => return Err(not_for(name, op, &fits)),
    };
    Ok(Cond::Text(col, test))
}

/// `T::"id"` as Cedar writes an entity uid. Cedar's own parser insists on its normalized
/// spelling (it wants `'` written `\'`); the plain form with only `\"` and `\\` escaped
/// is accepted as well.
pub fn parse_entity_uid(s: &str) -> Option<EntityRef> {
    if let Ok(uid) = s.parse::<cedar_policy::EntityUid>() {
        return Some(EntityRef {
            etype: uid.type_name().to_string(),
            id: uid.id().unescaped().to_string(),
        });
    }
    let (ty, rest) = s.split_once("::\"")?;
    let body = rest.strip_suffix('"')?;
    let mut id = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('"' | '\\') => id.push(e),
                _ => return None,
            },
            '"' => return None,
            c => id.push(c),
        }
    }
    let ty: cedar_policy::EntityTypeName = ty.parse().ok()?;
    Some(EntityRef {
        etype: ty.to_string(),
        id,
    })
}

fn entity_cond(col: EntityCol, op: Operator, values: &[&Value]) -> Result<Cond, String> {
    use Operator::*;
    let name = match col {
        EntityCol::Principal => "principal",
        EntityCol::Resource => "resource",
    };
    if !matches!(op, Equals | NotEquals | IsExactly | In | NotIn) {
        return Err(not_for(name, op, EQUALITY_OPS));
    }
    check_arity(op, values, false)?;
    let values = values
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(parse_entity_uid)
                .ok_or_else(|| format!("value {v} is not an entity uid such as User::\"alice\""))
        })
        .collect::<Result<_, _>>()?;
    Ok(Cond::Entity {
        col,
        values,
        negate: matches!(op, NotEquals | NotIn),
    })
}

fn policy_cond(op: Operator, values: &[&Value]) -> Result<Cond, String> {
    use Operator::*;
    if !matches!(op, Equals | NotEquals | IsExactly | In | NotIn) {
        return Err(not_for("policy", op, EQUALITY_OPS));
    }
    check_arity(op, values, false)?;
    let values = values
        .iter()
        .map(|v| {
            v.as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("value {v} is not a policy id or key"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Cond::Policy {
        values,
        negate: matches!(op, NotEquals | NotIn),
    })
}

fn scope_cond(op: Operator, values: &[&Value]) -> Result<Cond, String> {
    use Operator::*;
    let fits = "EQUALS, NOT_EQUALS, IS_EXACTLY, IN, IS_ANY_OF, NOT_IN, IS_NOT_ANY_OF, CONTAINS, NOT_CONTAINS, IS_NULL (no scopes), IS_NOT_NULL";
    if !matches!(
        op,
        Equals | NotEquals | IsExactly | In | NotIn | Contains | NotContains | IsNull | IsNotNull
    ) {
        return Err(not_for("scopes", op, fits));
    }
    check_arity(op, values, true)?;
    let mut vals: Vec<String> = values
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("value {v} is not a string"))
        })
        .collect::<Result<_, _>>()?;
    vals.sort();
    vals.dedup();
    Ok(Cond::Scopes(match op {
        Contains => ScopeTest::All(vals),
        NotContains => ScopeTest::NotAll(vals),
        In => ScopeTest::Any(vals),
        NotIn => ScopeTest::NoneOf(vals),
        Equals | IsExactly => ScopeTest::Exactly(vals),
        NotEquals => ScopeTest::NotExactly(vals),
        IsNull => ScopeTest::Empty(true),
        _ => ScopeTest::Empty(false),
    }))
}

fn time_cond(
    col: TimeCol,
    op: Operator,
    values: &[&Value],
    now: DateTime<Utc>,
) -> Result<Cond, String> {
    use Operator::*;
    let name = match col {
        TimeCol::GrantedAt => "granted_at",
        TimeCol::ExpiresAt => "expires_at",
        TimeCol::LastUsedAt => "last_used_at",
        TimeCol::RevokedAt => "revoked_at",
        TimeCol::CreatedAt => "created_at",
        TimeCol::UpdatedAt => "updated_at",
    };
    let ops = "EQUALS, NOT_EQUALS, IS_EXACTLY, IN, IS_ANY_OF, NOT_IN, IS_NOT_ANY_OF, IS_BETWEEN, IS_ON_OR_BEFORE, IS_ON_OR_AFTER, IS_WITHIN, GREATER_THAN, LESS_THAN, GREATER_THAN_EQUALS, LESS_THAN_EQUALS";
    let fits = if col.nullable() {
        format!("{ops}, IS_NULL, IS_NOT_NULL")
    } else {
        format!("{ops} (it is never null)")
    };
    let ts = |v: &Value| -> Result<DateTime<Utc>, String> {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                format!("value {v} is not an RFC 3339 timestamp such as 2024-01-01T00:00:00Z")
            })
    };
    let range =
        |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| TimeTest::Range { from, to };
    let test = match op {
        Equals | IsExactly | In | NotEquals | NotIn => {
            check_arity(op, values, false)?;
            let mut vals = Vec::with_capacity(values.len());
            for v in values {
                let t = ts(v)?;
                // a value with sub-microsecond digits equals no stored time
                if exact_us(t) {
                    vals.push(t);
                }
            }
            if matches!(op, NotEquals | NotIn) {
                TimeTest::NotIn(vals)
            } else {
                TimeTest::In(vals)
            }
        }
        IsBetween => {
            check_arity(op, values, false)?;
            let (a, b) = (ts(values[0])?, ts(values[1])?);
            if a > b {
                return Err("IS_BETWEEN needs [start, end] with start <= end".into());
            }
            range(Some(ceil_us(a)), Some(floor_us(b)))
        }
        IsOnOrAfter | GreaterThanEquals => {
            check_arity(op, values, false)?;
            range(Some(ceil_us(ts(values[0])?)), None)
        }
        IsOnOrBefore | LessThanEquals => {
            check_arity(op, values, false)?;
            range(None, Some(floor_us(ts(values[0])?)))
        }
        GreaterThan => {
            check_arity(op, values, false)?;
            range(
                Some(floor_us(ts(values[0])?) + Duration::microseconds(1)),
                None,
            )
        }
        LessThan => {
            check_arity(op, values, false)?;
            range(
                None,
                Some(ceil_us(ts(values[0])?) - Duration::microseconds(1)),
            )
        }
        IsWithin => {
            check_arity(op, values, false)?;
            let (months, span) = values[0]
                .as_str()
                .and_then(parse_iso_duration)
                .ok_or_else(|| {
                    format!(
                        "value {} is not an ISO 8601 duration such as P7D or PT12H (at most 100 years)",
                        values[0]
                    )
                })?;
            let from = now
                .checked_sub_months(Months::new(months))
                .and_then(|t| t.checked_sub_signed(span))
                .ok_or("duration reaches beyond representable time")?;
            let to = now
                .checked_add_months(Months::new(months))
                .and_then(|t| t.checked_add_signed(span))
                .ok_or("duration reaches beyond representable time")?;
            range(Some(ceil_us(from)), Some(floor_us(to)))
        }
        IsNull | IsNotNull if col.nullable() => {
            check_arity(op, values, false)?;
            TimeTest::Null(op == IsNull)
        }
        _ => return Err(not_for(name, op, &fits)),
    };
    Ok(Cond::Time(col, within_stored_years(test)))
}

/// Stored times are compared as fixed-width text, which orders correctly only for years
/// 0000–9999. A bound beyond them (`GREATER_THAN 9999-12-31T23:59:59.999999Z` is year 10000
/// after rounding) is resolved here: a lower bound past the last instant or an upper bound
/// before the first matches nothing; a bound on the far side of the range is no bound.
fn within_stored_years(test: TimeTest) -> TimeTest {
    let first: DateTime<Utc> = "0000-01-01T00:00:00Z".parse().expect("year 0");
    let last: DateTime<Utc> = "9999-12-31T23:59:59.999999Z".parse().expect("year 9999");
    match test {
        TimeTest::Range { from, to } => {
            if from.is_some_and(|f| f > last) || to.is_some_and(|t| t < first) {
                return TimeTest::In(Vec::new());
            }
            TimeTest::Range {
                from: from.filter(|f| *f > first),
                to: to.filter(|t| *t < last),
            }
        }
        other => other,
    }
}

/// The query-string selectors of the list (`ids`, `search_key`, `policy_id`, `app_id`) as
/// conditions; each error names its parameter.
pub fn query_conds(
    ids: Option<&str>,
    search_key: Option<&str>,
    policy_id: Option<&str>,
    app_id: Option<&str>,
) -> Result<Vec<Cond>, String> {
    // an empty parameter (`app_id=`, as a form with nothing chosen sends it) is no selector
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|s| !s.is_empty())
    }
    let (ids, search_key, policy_id, app_id) = (
        given(ids),
        given(search_key),
        given(policy_id),
        given(app_id),
    );
    let mut out = Vec::new();
    if let Some(ids) = ids {
        let parsed = ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<Uuid>()
                    .map_err(|_| format!("ids: {s:?} is not a grant id (UUID)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parsed.is_empty() {
            return Err("ids: give one or more comma-separated grant ids".into());
        }
        if parsed.len() > MAX_VALUES {
            return Err(format!("ids: at most {MAX_VALUES} ids"));
        }
        out.push(Cond::Ids(parsed));
    }
    if let Some(s) = search_key {
        if s.chars().count() > 200 {
            return Err("search_key: at most 200 characters".into());
        }
        out.push(Cond::Search(s.to_string()));
    }
    if let Some(p) = policy_id {
        out.push(Cond::Policy {
            values: vec![p.to_string()],
            negate: false,
        });
    }
    if let Some(a) = app_id {
        out.push(Cond::Text(TextCol::App, TextTest::In(vec![a.to_string()])));
    }
    Ok(out)
}

/// Conditions of every kind, each carrying `evil` (or a value derived from it) where a
/// value goes: what the backends' SQL builders are tested with, to show that no value
/// reaches the SQL text.
#[cfg(test)]
pub(crate) fn hostile_conditions(evil: &str, now: DateTime<Utc>) -> Vec<Cond> {
    use serde_json::json;
    let f = |a: &str, o: &str, vals: Vec<serde_json::Value>| RawFilter {
        attribute: a.into(),
        operator: o.into(),
        values: Some(vals.into_iter().map(|value| RawValue { value }).collect()),
    };
    let mut conds = parse_filters(
        &[
            f("user", "IN", vec![json!(evil)]),
            f("app", "NOT_EQUALS", vec![json!(evil)]),
            f("entitlement", "TEXT_CONTAINS", vec![json!(evil)]),
            f("granted_by", "TEXT_DOES_NOT_CONTAINS", vec![json!(evil)]),
            f("requested_by", "STARTS_WITH", vec![json!(evil)]),
            f(
                "principal",
                "EQUALS",
                vec![json!(format!("User::\"{evil}\""))],
            ),
            f("policy", "IN", vec![json!(evil)]),
            f("scopes", "IS_EXACTLY", vec![json!(evil)]),
            f("scopes", "CONTAINS", vec![json!(evil)]),
            f("scopes", "IS_ANY_OF", vec![json!(evil)]),
            f("status", "IS_ANY_OF", vec![json!("INACTIVE")]),
            f("expires_at", "IS_WITHIN", vec![json!("P7D")]),
            f("granted_at", "NOT_IN", vec![json!("2026-01-01T00:00:00Z")]),
        ],
        now,
    )
    .unwrap();
    conds.extend(query_conds(None, Some(evil), Some(evil), Some(evil)).unwrap());
    conds.push(Cond::Entity {
        col: EntityCol::Resource,
        values: vec![crate::domain::decision::EntityRef {
            etype: "App".into(),
            id: evil.into(),
        }],
        negate: true,
    });
    conds
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-10T12:00:00Z".parse().unwrap()
    }

    fn f(attribute: &str, operator: &str, values: Vec<Value>) -> RawFilter {
        RawFilter {
            attribute: attribute.into(),
            operator: operator.into(),
            values: Some(values.into_iter().map(|value| RawValue { value }).collect()),
        }
    }

    fn one(attribute: &str, operator: &str, values: Vec<Value>) -> Result<Cond, FilterError> {
        parse_filters(&[f(attribute, operator, values)], now()).map(|mut v| v.remove(0))
    }

    fn ts(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// A fitting value list for each operator and attribute kind.
    fn sample(attribute: &str, op: &str) -> Vec<Value> {
        let scalar = match attribute {
            "status" => json!("ACTIVE"),
            "principal" => json!("User::\"alice\""),
            "resource" => json!("App::\"crm\""),
            "granted_at" | "expires_at" | "last_used_at" | "last_login_at" | "revoked_at"
            | "created_at" | "updated_at" => json!("2026-01-01T00:00:00Z"),
            "review_required" => json!(true),
            _ => json!("x"),
        };
        match op {
            "IS_NULL" | "IS_NOT_NULL" => vec![],
            "IS_BETWEEN" => vec![json!("2026-01-01T00:00:00Z"), json!("2026-02-01T00:00:00Z")],
            "IS_WITHIN" => vec![json!("P7D")],
            "IN" | "IS_ANY_OF" | "NOT_IN" | "IS_NOT_ANY_OF" if attribute != "status" => {
                vec![scalar.clone(), scalar]
            }
            _ => vec![scalar],
        }
    }

    /// Which (attribute, operator) pairs the contract accepts: the fitness table.
    fn fits(attribute: &str, op: &str) -> bool {
        let equality = [
            "EQUALS",
            "NOT_EQUALS",
            "IS_EXACTLY",
            "IN",
            "IS_ANY_OF",
            "NOT_IN",
            "IS_NOT_ANY_OF",
        ];
        let text = [
            "CONTAINS",
            "NOT_CONTAINS",
            "TEXT_CONTAINS",
            "TEXT_DOES_NOT_CONTAINS",
            "STARTS_WITH",
            "ENDS_WITH",
        ];
        let time = [
            "IS_BETWEEN",
            "IS_ON_OR_BEFORE",
            "IS_ON_OR_AFTER",
            "IS_WITHIN",
            "GREATER_THAN",
            "LESS_THAN",
            "GREATER_THAN_EQUALS",
            "LESS_THAN_EQUALS",
        ];
        let null = ["IS_NULL", "IS_NOT_NULL"];
        let is = |set: &[&str]| set.contains(&op);
        match attribute {
            "status" | "principal" | "resource" | "policy" => is(&equality),
            "user" | "entitlement" | "entitlement_value" => is(&equality) || is(&text),
            "app" | "granted_by" | "requested_by" => is(&equality) || is(&text) || is(&null),
            "scopes" => is(&equality) || is(&["CONTAINS", "NOT_CONTAINS"]) || is(&null),
            "granted_at" | "expires_at" | "created_at" | "updated_at" => is(&equality) || is(&time),
            "last_used_at" | "last_login_at" | "revoked_at" => {
                is(&equality) || is(&time) || is(&null)
            }
            "review_required" => is(&["EQUALS", "NOT_EQUALS"]),
            "approver" => is(&equality),
            _ => unreachable!("{attribute}"),
        }
    }

    #[test]
    fn every_fitting_pair_is_accepted_and_every_other_refused_by_name() {
        let mut accepted = 0;
        for a in attribute_names() {
            for o in operator_names() {
                let r = one(a, o, sample(a, o));
                if fits(a, o) {
                    assert!(r.is_ok(), "{a} {o}: {:?}", r.err());
                    accepted += 1;
                } else {
                    let e = r.expect_err(&format!("{a} {o} must be refused"));
                    let msg = e.to_string();
                    assert!(msg.contains(a) && msg.contains(o), "{msg}");
                    assert!(msg.contains("does not apply"), "{msg}");
                }
            }
        }
        assert!(accepted > 150, "{accepted}");
    }

    #[test]
    fn unknown_names_and_wrong_counts_and_types_are_refused_precisely() {
        let cases: Vec<(RawFilter, &str)> = vec![
            (f("colour", "EQUALS", vec![json!("x")]), "unknown attribute"),
            (f("app", "LIKE", vec![json!("x")]), "unknown operator"),
            (f("app", "equals", vec![json!("x")]), "unknown operator"),
            (
                f(
                    "granted_at",
                    "IS_BETWEEN",
                    vec![json!("2026-01-01T00:00:00Z")],
                ),
                "exactly 2 values, got 1",
            ),
            (
                f(
                    "granted_at",
                    "IS_BETWEEN",
                    vec![json!("2026-02-01T00:00:00Z"), json!("2026-01-01T00:00:00Z")],
                ),
                "start <= end",
            ),
            (
                f("app", "STARTS_WITH", vec![json!("a"), json!("b")]),
                "exactly 1 value, got 2",
            ),
            (f("app", "IS_NULL", vec![json!("a")]), "no values"),
            (f("app", "IN", vec![]), "at least 1 value"),
            (f("app", "EQUALS", vec![]), "exactly 1 value, got 0"),
            (
                f("app", "EQUALS", vec![json!(true)]),
                "not a string or an integer",
            ),
            (
                f("app", "EQUALS", vec![json!(1.5)]),
                "not a string or an integer",
            ),
            (f("app", "STARTS_WITH", vec![json!("")]), "non-empty"),
            (f("user", "IS_NULL", vec![]), "never null"),
            (f("status", "EQUALS", vec![json!("active")]), "not a status"),
            (
                f("status", "STARTS_WITH", vec![json!("A")]),
                "does not apply",
            ),
            (f("principal", "EQUALS", vec![json!("alice")]), "entity uid"),
            (
                f("expires_at", "IS_ON_OR_BEFORE", vec![json!("yesterday")]),
                "RFC 3339",
            ),
            (
                f("expires_at", "IS_ON_OR_BEFORE", vec![json!("2026-01-01")]),
                "RFC 3339",
            ),
            (
                f("expires_at", "IS_ON_OR_BEFORE", vec![json!(1700000000)]),
                "RFC 3339",
            ),
            (
                f("expires_at", "IS_WITHIN", vec![json!("7 days")]),
                "ISO 8601",
            ),
            (
                f("expires_at", "IS_WITHIN", vec![json!("P1000Y")]),
                "ISO 8601",
            ),
            (f("expires_at", "IS_NULL", vec![]), "never null"),
            (
                f("scopes", "STARTS_WITH", vec![json!("r")]),
                "does not apply",
            ),
            (f("scopes", "CONTAINS", vec![json!(1)]), "not a string"),
            (f("policy", "EQUALS", vec![json!("")]), "policy id or key"),
        ];
        for (filter, want) in cases {
            let e = parse_filters(std::slice::from_ref(&filter), now())
                .expect_err(&format!("{filter:?}"));
            let msg = e.to_string();
            assert!(msg.contains(want), "{filter:?}: {msg}");
            assert!(msg.contains(&format!("{:?}", filter.attribute)), "{msg}");
            assert!(msg.contains(&format!("{:?}", filter.operator)), "{msg}");
        }
        // the index of the offending filter is named
        let e = parse_filters(
            &[
                f("app", "EQUALS", vec![json!("a")]),
                f("app", "EQUALS", vec![]),
            ],
            now(),
        )
        .unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.to_string().starts_with("filters[1]"));
        let many: Vec<_> = (0..=MAX_FILTERS)
            .map(|_| f("app", "IS_NULL", vec![]))
            .collect();
        assert!(parse_filters(&many, now()).is_err());
    }

    #[test]
    fn null_operators_accept_an_absent_values_field() {
        let raw = RawFilter {
            attribute: "revoked_at".into(),
            operator: "IS_NOT_NULL".into(),
            values: None,
        };
        assert_eq!(
            parse_filters(&[raw], now()).unwrap(),
            vec![Cond::Time(TimeCol::RevokedAt, TimeTest::Null(false))]
        );
    }

    #[test]
    fn statuses_are_buckets_or_raw_and_negations_complement() {
        assert_eq!(
            one("status", "IS_ANY_OF", vec![json!("ACTIVE")]).unwrap(),
            Cond::Status(StatusSet::ACTIVE)
        );
        assert_eq!(
            one("status", "IN", vec![json!("REVOKED"), json!("EXPIRED")]).unwrap(),
            Cond::Status(StatusSet::INACTIVE)
        );
        let approval = StatusSet::PENDING_APPROVAL
            .union(StatusSet::APPROVAL_EXPIRED)
            .union(StatusSet::DENIED);
        assert_eq!(
            one("status", "NOT_EQUALS", vec![json!("ACTIVE")]).unwrap(),
            Cond::Status(StatusSet::INACTIVE.union(approval))
        );
        assert_eq!(
            one(
                "status",
                "IN",
                vec![json!("PENDING_APPROVAL"), json!("DENIED")]
            )
            .unwrap(),
            Cond::Status(StatusSet::PENDING_APPROVAL.union(StatusSet::DENIED))
        );
        assert_eq!(
            one("status", "IS_NOT_ANY_OF", vec![json!("REVOKED")]).unwrap(),
            Cond::Status(
                StatusSet::GRANTED
                    .union(StatusSet::EXTENDED)
                    .union(StatusSet::EXPIRED)
                    .union(approval)
            )
        );
    }

    #[test]
    fn attributes_map_to_their_columns() {
        assert_eq!(
            one(
                "last_login_at",
                "IS_ON_OR_BEFORE",
                vec![json!("2026-01-01T00:00:00Z")]
            )
            .unwrap(),
            Cond::Time(
                TimeCol::LastUsedAt,
                TimeTest::Range {
                    from: None,
                    to: Some(ts("2026-01-01T00:00:00Z"))
                }
            )
        );
        for a in ["entitlement", "entitlement_value"] {
            assert_eq!(
                one(a, "IS_ANY_OF", vec![json!("crm"), json!(42)]).unwrap(),
                Cond::Text(
                    TextCol::ResourceId,
                    TextTest::In(vec!["crm".into(), "42".into()])
                )
            );
        }
        assert_eq!(
            one("user", "EQUALS", vec![json!(123)]).unwrap(),
            Cond::Text(TextCol::PrincipalId, TextTest::In(vec!["123".into()]))
        );
        assert_eq!(
            one(
                "resource",
                "NOT_IN",
                vec![json!(r#"Entitlement::"a \"b\"""#)]
            )
            .unwrap(),
            Cond::Entity {
                col: EntityCol::Resource,
                values: vec![EntityRef {
                    etype: "Entitlement".into(),
                    id: "a \"b\"".into()
                }],
                negate: true
            }
        );
        for (text, id) in [
            (r#"User::"o'brien""#, "o'brien"),
            (r#"User::"o\'brien""#, "o'brien"),
            (r#"User::"a\\b \"c\"""#, r#"a\b "c""#),
        ] {
            assert_eq!(
                parse_entity_uid(text),
                Some(EntityRef {
                    etype: "User".into(),
                    id: id.into()
                }),
                "{text}"
            );
        }
        for bad in [
            r#"User::"a"b""#,
            r#"User::"a\x""#,
            r#"User::a"#,
            r#"::"a""#,
            r#"Us er::"a""#,
        ] {
            assert_eq!(parse_entity_uid(bad), None, "{bad}");
        }
        assert_eq!(
            one("app", "TEXT_DOES_NOT_CONTAINS", vec![json!("50%")]).unwrap(),
            Cond::Text(
                TextCol::App,
                TextTest::Like {
                    needle: "50%".into(),
                    anchor: Anchor::Anywhere,
                    negate: true
                }
            )
        );
        assert_eq!(
            one(
                "scopes",
                "IS_EXACTLY",
                vec![json!("w"), json!("r"), json!("w")]
            )
            .unwrap(),
            Cond::Scopes(ScopeTest::Exactly(vec!["r".into(), "w".into()]))
        );
        assert_eq!(
            one("scopes", "IS_NULL", vec![]).unwrap(),
            Cond::Scopes(ScopeTest::Empty(true))
        );
    }

    #[test]
    fn time_bounds_are_inclusive_microsecond_bounds() {
        let r = |op: &str, v: &str| match one("expires_at", op, vec![json!(v)]).unwrap() {
            Cond::Time(_, TimeTest::Range { from, to }) => (from, to),
            other => panic!("{other:?}"),
        };
        let t = ts("2026-01-01T00:00:00.000001Z");
        assert_eq!(r("GREATER_THAN", "2026-01-01T00:00:00Z"), (Some(t), None));
        assert_eq!(
            r("LESS_THAN", "2026-01-01T00:00:00.000002Z"),
            (None, Some(t))
        );
        assert_eq!(
            r("IS_ON_OR_AFTER", "2026-01-01T00:00:00.000000500Z"),
            (Some(t), None)
        );
        assert_eq!(
            r("IS_ON_OR_BEFORE", "2026-01-01T00:00:00.000001999Z"),
            (None, Some(t))
        );
        assert_eq!(
            r("GREATER_THAN_EQUALS", "2026-01-01T01:00:00.000001+01:00"),
            (Some(t), None)
        );
        // a sub-microsecond instant equals nothing stored
        assert_eq!(
            one(
                "expires_at",
                "EQUALS",
                vec![json!("2026-01-01T00:00:00.0000005Z")]
            )
            .unwrap(),
            Cond::Time(TimeCol::ExpiresAt, TimeTest::In(vec![]))
        );
        // IS_WITHIN: either side of now
        assert_eq!(
            r("IS_WITHIN", "P7D"),
            (
                Some(ts("2026-01-03T12:00:00Z")),
                Some(ts("2026-01-17T12:00:00Z"))
            )
        );
        assert_eq!(
            r("IS_WITHIN", "P1M"),
            (
                Some(ts("2025-12-10T12:00:00Z")),
                Some(ts("2026-02-10T12:00:00Z"))
            )
        );
    }

    #[test]
    fn bounds_beyond_year_9999_never_wrap_around() {
        let r = |op: &str, v: &str| one("expires_at", op, vec![json!(v)]).unwrap();
        let nothing = Cond::Time(TimeCol::ExpiresAt, TimeTest::In(vec![]));
        assert_eq!(r("GREATER_THAN", "9999-12-31T23:59:59.999999Z"), nothing);
        assert_eq!(r("IS_ON_OR_AFTER", "9999-12-31T23:59:59.9999991Z"), nothing);
        assert_eq!(r("LESS_THAN", "0000-01-01T00:00:00Z"), nothing);
        let unbounded = Cond::Time(
            TimeCol::ExpiresAt,
            TimeTest::Range {
                from: None,
                to: None,
            },
        );
        assert_eq!(
            r("IS_ON_OR_BEFORE", "9999-12-31T23:59:59.999999Z"),
            unbounded
        );
        assert_eq!(r("IS_ON_OR_AFTER", "0000-01-01T00:00:00Z"), unbounded);
    }

    #[test]
    fn values_over_all_filters_are_bounded() {
        let big: Vec<Value> = (0..MAX_VALUES).map(|i| json!(format!("u{i}"))).collect();
        let filters: Vec<RawFilter> = (0..=MAX_TOTAL_VALUES / MAX_VALUES)
            .map(|_| f("user", "IN", big.clone()))
            .collect();
        let e = parse_filters(&filters, now()).unwrap_err();
        assert_eq!(e.index, MAX_TOTAL_VALUES / MAX_VALUES);
        assert!(e.problem.contains("over all filters"), "{e}");
        assert!(parse_filters(&filters[1..], now()).is_ok());
    }

    #[test]
    fn iso_durations() {
        let d = |s: &str| parse_iso_duration(s);
        assert_eq!(d("P7D"), Some((0, Duration::days(7))));
        assert_eq!(d("P2W"), Some((0, Duration::days(14))));
        assert_eq!(d("PT12H"), Some((0, Duration::hours(12))));
        assert_eq!(d("PT1M"), Some((0, Duration::minutes(1))));
        assert_eq!(d("P1M"), Some((1, Duration::zero())));
        assert_eq!(
            d("P1Y2M3DT4H5M6.5S"),
            Some((
                14,
                Duration::days(3)
                    + Duration::hours(4)
                    + Duration::minutes(5)
                    + Duration::milliseconds(6500)
            ))
        );
        assert_eq!(d("PT0,25S"), Some((0, Duration::milliseconds(250))));
        assert_eq!(d("P0D"), Some((0, Duration::zero())));
        for bad in [
            "",
            "P",
            "PT",
            "7D",
            "P7",
            "PD",
            "P1H",
            "PT1D",
            "P1D2Y",
            "P1.5D",
            "PT1.5H",
            "P-1D",
            "p7d",
            "P7DT",
            "PT1S2M",
            "P1Y1Y",
            "P1000Y",
            "P99999999D",
            "PT0.0000001S",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_escape("a%b_c\\d"), "a\\%b\\_c\\\\d");
        assert_eq!(like_pattern("50%", Anchor::Anywhere), "%50\\%%");
        assert_eq!(like_pattern("a_", Anchor::Start), "a\\_%");
        assert_eq!(like_pattern("x", Anchor::End), "%x");
    }

    #[test]
    fn query_parameters() {
        let id = Uuid::now_v7();
        assert_eq!(
            query_conds(
                Some(&format!("{id}, {id}")),
                Some("ali"),
                Some("pk"),
                Some("crm")
            )
            .unwrap(),
            vec![
                Cond::Ids(vec![id, id]),
                Cond::Search("ali".into()),
                Cond::Policy {
                    values: vec!["pk".into()],
                    negate: false
                },
                Cond::Text(TextCol::App, TextTest::In(vec!["crm".into()])),
            ]
        );
        assert!(query_conds(Some("nope"), None, None, None)
            .unwrap_err()
            .starts_with("ids:"));
        assert!(query_conds(Some(","), None, None, None).is_err());
        assert_eq!(
            query_conds(Some(""), Some(" "), Some(""), Some("")).unwrap(),
            vec![]
        );
    }

    #[test]
    fn sort_orders() {
        assert_eq!(
            SortOrder::parse(None).unwrap(),
            SortOrder::new(TimeCol::GrantedAt, true)
        );
        assert_eq!(
            SortOrder::parse(Some("EXPIRES_AT_ASC")).unwrap(),
            SortOrder::new(TimeCol::ExpiresAt, false)
        );
        assert!(SortOrder::parse(Some("expires_at_asc"))
            .unwrap_err()
            .contains("GRANTED_AT_DESC"));
    }
}
