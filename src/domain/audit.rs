//! Audit events and their hash chain. Pure: the canonical form and the hash live here so
//! the store (which appends) and verification (which recomputes) cannot disagree.

use super::ids::{EventId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `prev_hash` of a tenant's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    #[serde(rename = "authorize")]
    Authorize,
    #[serde(rename = "grant.request")]
    GrantRequest,
    #[serde(rename = "grant.extend")]
    GrantExtend,
    #[serde(rename = "grant.update")]
    GrantUpdate,
    #[serde(rename = "grant.revoke")]
    GrantRevoke,
    #[serde(rename = "grant.expire")]
    GrantExpire,
    /// A re-evaluation after a configuration change flagged, clamped, revoked or cleared
    /// the grant.
    #[serde(rename = "grant.reevaluate")]
    GrantReevaluate,
    /// An approver approved a pending grant (activating it when the approvals reach the
    /// required count), or was refused.
    #[serde(rename = "grant.approve")]
    GrantApprove,
    /// An approver denied a pending grant, or was refused.
    #[serde(rename = "grant.deny")]
    GrantDeny,
    /// A pending grant's approval deadline passed (APPROVAL_EXPIRED).
    #[serde(rename = "grant.approval_expire")]
    GrantApprovalExpire,
    #[serde(rename = "policy.create")]
    PolicyCreate,
    #[serde(rename = "policy.update")]
    PolicyUpdate,
    #[serde(rename = "policy.delete")]
    PolicyDelete,
    #[serde(rename = "schema.update")]
    SchemaUpdate,
    #[serde(rename = "entities.update")]
    EntitiesUpdate,
    #[serde(rename = "entities.delete")]
    EntitiesDelete,
    #[serde(rename = "settings.update")]
    SettingsUpdate,
    /// The tenant's own quota was set or cleared (`grantd tenant quota`).
    #[serde(rename = "tenant.quota")]
    TenantQuota,
    #[serde(rename = "webhook.create")]
    WebhookCreate,
    #[serde(rename = "webhook.delete")]
    WebhookDelete,
    /// An admin sent a delivery again.
    #[serde(rename = "webhook.retry")]
    WebhookRetry,
    #[serde(rename = "key.create")]
    KeyCreate,
    #[serde(rename = "key.revoke")]
    KeyRevoke,
    #[serde(rename = "auth.tenant_mismatch")]
    AuthTenantMismatch,
}

impl EventKind {
    pub const ALL: [EventKind; 24] = [
        EventKind::Authorize,
        EventKind::GrantRequest,
        EventKind::GrantExtend,
        EventKind::GrantUpdate,
        EventKind::GrantRevoke,
        EventKind::GrantExpire,
        EventKind::GrantReevaluate,
        EventKind::GrantApprove,
        EventKind::GrantDeny,
        EventKind::GrantApprovalExpire,
        EventKind::PolicyCreate,
        EventKind::PolicyUpdate,
        EventKind::PolicyDelete,
        EventKind::SchemaUpdate,
        EventKind::EntitiesUpdate,
        EventKind::EntitiesDelete,
        EventKind::SettingsUpdate,
        EventKind::TenantQuota,
        EventKind::WebhookCreate,
        EventKind::WebhookDelete,
        EventKind::WebhookRetry,
        EventKind::KeyCreate,
        EventKind::KeyRevoke,
        EventKind::AuthTenantMismatch,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Authorize => "authorize",
            EventKind::GrantRequest => "grant.request",
            EventKind::GrantExtend => "grant.extend",
            EventKind::GrantUpdate => "grant.update",
            EventKind::GrantRevoke => "grant.revoke",
            EventKind::GrantExpire => "grant.expire",
            EventKind::GrantReevaluate => "grant.reevaluate",
            EventKind::GrantApprove => "grant.approve",
            EventKind::GrantDeny => "grant.deny",
            EventKind::GrantApprovalExpire => "grant.approval_expire",
            EventKind::PolicyCreate => "policy.create",
            EventKind::PolicyUpdate => "policy.update",
            EventKind::PolicyDelete => "policy.delete",
            EventKind::SchemaUpdate => "schema.update",
            EventKind::EntitiesUpdate => "entities.update",
            EventKind::EntitiesDelete => "entities.delete",
            EventKind::SettingsUpdate => "settings.update",
            EventKind::TenantQuota => "tenant.quota",
            EventKind::WebhookCreate => "webhook.create",
            EventKind::WebhookDelete => "webhook.delete",
            EventKind::WebhookRetry => "webhook.retry",
            EventKind::KeyCreate => "key.create",
            EventKind::KeyRevoke => "key.revoke",
            EventKind::AuthTenantMismatch => "auth.tenant_mismatch",
        }
    }
}

/// Who did it. `key_id` is the API key's id, or `"cli"` for the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    pub key_id: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        Actor {
            key_id: "cli".into(),
            role: "admin".into(),
            on_behalf_of: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subject {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

impl Subject {
    pub fn new(kind: &str, id: impl ToString) -> Self {
        Subject {
            kind: kind.to_string(),
            id: id.to_string(),
        }
    }
}

/// One rule that determined a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Determining {
    pub policy_id: String,
    pub rule_id: String,
    pub effect: String,
}

/// An event before it is placed in the chain (no id, seq or hash yet).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: EventKind,
    pub subject: Subject,
    pub decision: Option<String>,
    pub deny_reason: Option<String>,
    pub determining: Option<Vec<Determining>>,
    pub notices: Option<Vec<String>>,
    pub policy_set_version: Option<i64>,
    pub request: Option<Value>,
    /// The canonical form's parts, when [`NewEvent::render`] made them.
    pub rendered: Option<Rendered>,
}

impl NewEvent {
    pub fn new(at: DateTime<Utc>, actor: Actor, kind: EventKind, subject: Subject) -> Self {
        NewEvent {
            at,
            actor,
            kind,
            subject,
            decision: None,
            deny_reason: None,
            determining: None,
            notices: None,
            policy_set_version: None,
            request: None,
            rendered: None,
        }
    }

    /// Renders the parts of the canonical form now, on the caller's thread rather than the
    /// audit writer's (see [`Rendered`]). Call it last: the parts are what gets stored and
    /// hashed, so no field may change after it (placement checks this in debug builds).
    pub fn render(mut self) -> Self {
        self.rendered = Some(Rendered::of_new(&self));
        self
    }

    pub fn with_request(mut self, request: Value) -> Self {
        self.request = Some(request);
        self
    }
}

/// The hashed content of an event: everything but the hashes themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventContent {
    #[schema(value_type = String, format = Uuid)]
    pub id: EventId,
    pub seq: i64,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: EventKind,
    pub subject: Subject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determining: Option<Vec<Determining>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notices: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_set_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub request: Option<Value>,
}

impl EventContent {
    pub fn place(event: NewEvent, id: EventId, seq: i64) -> Self {
        EventContent {
            id,
            seq,
            at: event.at,
            actor: event.actor,
            kind: event.kind,
            subject: event.subject,
            decision: event.decision,
            deny_reason: event.deny_reason,
            determining: event.determining,
            notices: event.notices,
            policy_set_version: event.policy_set_version,
            request: event.request,
        }
    }

    /// Canonical JSON: keys sorted at every level, no whitespace, timestamps at microseconds.
    ///
    /// Written field by field in sorted key order rather than through a `serde_json::Value`:
    /// the audit writer runs this for every event while the chain is held, and the detour
    /// through a map per object was most of its time outside the database. It must equal
    /// `canonical_json(&serde_json::to_value(self))`, which `direct_canonical_equals_sorted_value`
    /// checks field by field.
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(512);
        Fields {
            actor: &self.actor,
            kind: self.kind,
            subject: &self.subject,
            decision: &self.decision,
            deny_reason: &self.deny_reason,
            determining: &self.determining,
            notices: &self.notices,
            policy_set_version: self.policy_set_version,
            request: &self.request,
        }
        .render(&mut out, Some((&self.at, &self.id, self.seq)));
        out
    }
}

/// The canonical form of an event (see [`EventContent::canonical`]) less the three fields
/// placing it in its chain sets: `at` (which placement may move forward), `id` and `seq`.
/// Rendered before the event reaches the audit writer, so the one serial step every
/// decision waits for only joins the parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    text: String,
    /// Where `at`, `id` and `seq` go, in that order.
    cuts: [usize; 3],
}

/// The fields of an event's canonical form that its placement does not set, borrowed from
/// an event placed or not.
struct Fields<'a> {
    actor: &'a Actor,
    kind: EventKind,
    subject: &'a Subject,
    decision: &'a Option<String>,
    deny_reason: &'a Option<String>,
    determining: &'a Option<Vec<Determining>>,
    notices: &'a Option<Vec<String>>,
    policy_set_version: Option<i64>,
    request: &'a Option<Value>,
}

impl Fields<'_> {
    /// Writes the canonical form to `out`: whole, with `placed` (`at`, `id`, `seq`), or
    /// without those three fields; returns where they go (or went) in `out`.
    fn render(
        &self,
        out: &mut String,
        placed: Option<(&DateTime<Utc>, &EventId, i64)>,
    ) -> [usize; 3] {
        let Fields {
            actor,
            kind,
            subject,
            decision,
            deny_reason,
            determining,
            notices,
            policy_set_version,
            request,
        } = *self;
        // Keys in byte order: actor, at, decision, deny_reason, determining, id, kind,
        // notices, policy_set_version, request, seq, subject.
        out.push_str("{\"actor\":{\"key_id\":");
        write_json_string(&actor.key_id, out);
        if let Some(on_behalf_of) = &actor.on_behalf_of {
            out.push_str(",\"on_behalf_of\":");
            write_json_string(on_behalf_of, out);
        }
        out.push_str(",\"role\":");
        write_json_string(&actor.role, out);
        out.push('}');
        let at = out.len();
        if let Some((t, _, _)) = placed {
            push_at(out, t);
        }
        if let Some(decision) = decision {
            out.push_str(",\"decision\":");
            write_json_string(decision, out);
        }
        if let Some(deny_reason) = deny_reason {
            out.push_str(",\"deny_reason\":");
            write_json_string(deny_reason, out);
        }
        if let Some(determining) = determining {
            out.push_str(",\"determining\":[");
            for (i, d) in determining.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"effect\":");
                write_json_string(&d.effect, out);
                out.push_str(",\"policy_id\":");
                write_json_string(&d.policy_id, out);
                out.push_str(",\"rule_id\":");
                write_json_string(&d.rule_id, out);
                out.push('}');
            }
            out.push(']');
        }
        let id = out.len();
        if let Some((_, i, _)) = placed {
            push_id(out, i);
        }
        out.push_str(",\"kind\":\"");
        out.push_str(kind.as_str());
        out.push('"');
        if let Some(notices) = notices {
            out.push_str(",\"notices\":[");
            for (i, n) in notices.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(n, out);
            }
            out.push(']');
        }
        if let Some(version) = policy_set_version {
            out.push_str(",\"policy_set_version\":");
            out.push_str(itoa::Buffer::new().format(version));
        }
        if let Some(request) = request {
            out.push_str(",\"request\":");
            write_canonical(request, out);
        }
        let seq = out.len();
        if let Some((_, _, n)) = placed {
            push_seq(out, n);
        }
        out.push_str(",\"subject\":{\"id\":");
        write_json_string(&subject.id, out);
        out.push_str(",\"type\":");
        write_json_string(&subject.kind, out);
        out.push_str("}}");
        [at, id, seq]
    }
}

fn push_at(out: &mut String, at: &DateTime<Utc>) {
    out.push_str(",\"at\":\"");
    crate::clock::push_ts(at, out);
    out.push('"');
}

fn push_id(out: &mut String, id: &EventId) {
    out.push_str(",\"id\":\"");
    out.push_str(
        id.0.hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    );
    out.push('"');
}

fn push_seq(out: &mut String, seq: i64) {
    out.push_str(",\"seq\":");
    out.push_str(itoa::Buffer::new().format(seq));
}

impl Rendered {
    /// The canonical form of `event` less `at`, `id` and `seq`.
    pub fn of_new(event: &NewEvent) -> Rendered {
        let mut text = String::with_capacity(512);
        let cuts = Fields {
            actor: &event.actor,
            kind: event.kind,
            subject: &event.subject,
            decision: &event.decision,
            deny_reason: &event.deny_reason,
            determining: &event.determining,
            notices: &event.notices,
            policy_set_version: event.policy_set_version,
            request: &event.request,
        }
        .render(&mut text, None);
        Rendered { text, cuts }
    }

    /// The whole canonical form, placed at `at` as event `id`, number `seq`.
    pub fn assemble(&self, at: &DateTime<Utc>, id: &EventId, seq: i64) -> String {
        let [a, i, s] = self.cuts;
        let t = &self.text;
        let mut out = String::with_capacity(t.len() + 96);
        out.push_str(&t[..a]);
        push_at(&mut out, at);
        out.push_str(&t[a..i]);
        push_id(&mut out, id);
        out.push_str(&t[i..s]);
        push_seq(&mut out, seq);
        out.push_str(&t[s..]);
        out
    }
}

/// What the audit writer acknowledges for each event it made durable: where the event
/// landed on its tenant's chain. Its callers (decisions) need no more, so the stored event
/// itself stays with the writer, which moves its fields into the journal's row instead of
/// copying them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub id: EventId,
    pub seq: i64,
}

impl From<&AuditEvent> for Appended {
    fn from(e: &AuditEvent) -> Self {
        Appended {
            id: e.content.id,
            seq: e.content.seq,
        }
    }
}

/// A stored event as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    #[serde(flatten)]
    pub content: EventContent,
    /// SHA-256 (hex) of the previous event's `hash` followed by this event's canonical form.
    pub hash: String,
    pub prev_hash: String,
}

/// `(seq, hash, at)` of a tenant's newest event: where its next event is placed.
pub type ChainHead = (i64, String, Option<DateTime<Utc>>);

/// One placed event: the tenant id as stored, the canonical body that was hashed, and the
/// event.
pub struct Placed {
    pub tenant: String,
    pub body: String,
    pub event: AuditEvent,
}

/// Places events on their tenants' chains — the one place this is done, for every store
/// and every append path (group commits of decisions, mutations' own events): the next `seq`, a new id, an `at` never before
/// the event it follows (so `at` is non-decreasing in `seq` order and time windows are seq
/// ranges), the canonical body and the chained hash. `heads` must hold the head of every
/// tenant in `events`; it is advanced in memory across the batch, so a group commit of many
/// events costs one head read and write per tenant.
pub fn place_events(
    heads: &mut std::collections::HashMap<TenantId, ChainHead>,
    events: Vec<(TenantId, NewEvent)>,
) -> Vec<Placed> {
    let mut out = Vec::with_capacity(events.len());
    for (tenant, mut event) in events {
        let head = heads
            .get_mut(&tenant)
            .expect("the head of every tenant in the batch was read");
        if let Some(last) = head.2 {
            event.at = event.at.max(last);
        }
        let rendered = event.rendered.take();
        let content = EventContent::place(event, EventId::new(), head.0 + 1);
        let body = match rendered {
            Some(r) => {
                let body = r.assemble(&content.at, &content.id, content.seq);
                debug_assert_eq!(body, content.canonical(), "rendered parts out of date");
                body
            }
            None => content.canonical(),
        };
        let hash = chain_hash(&head.1, &body);
        let prev_hash = std::mem::replace(&mut head.1, hash.clone());
        head.0 = content.seq;
        head.2 = Some(content.at);
        out.push(Placed {
            tenant: tenant.to_string(),
            body,
            event: AuditEvent {
                content,
                hash,
                prev_hash,
            },
        });
    }
    out
}

/// `hash = SHA-256(prev_hash || canonical)`, hex encoded.
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    super::sha256_hex_string(&[prev_hash.as_bytes(), canonical.as_bytes()])
}

/// Serialises a JSON value with object keys sorted (byte order) and no whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_json_string(s, out),
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A JSON string literal exactly as serde_json writes it (so stored bodies stay stable).
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => out.push_str(&format!("\\u{b:04x}")),
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The outcome of checking a tenant's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub ok: bool,
    /// Events checked.
    pub events: i64,
    pub head_seq: i64,
    pub head_hash: String,
    /// The first event that was altered or whose predecessor is missing.
    pub first_bad: Option<String>,
    /// Why verification failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Stored rows as verification sees them: the indexed columns and the hashed body.
pub struct StoredRow {
    pub id: String,
    pub seq: i64,
    pub kind: String,
    pub at: String,
    pub subject_id: String,
    pub decision: Option<String>,
    pub body: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Walks a chain in `seq` order from an anchor (seq 0 and the genesis hash for an unpruned
/// chain) and names the first event that does not fit. `head` is the head the store
/// recorded, so a truncated tail is caught too.
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    events: i64,
    first_bad: Option<String>,
    problem: Option<String>,
}

impl ChainVerifier {
    pub fn new(anchor_seq: i64, anchor_hash: &str) -> Self {
        ChainVerifier {
            expected_seq: anchor_seq + 1,
            prev_hash: anchor_hash.to_string(),
            events: 0,
            first_bad: None,
            problem: None,
        }
    }

    pub fn failed(&self) -> bool {
        self.first_bad.is_some() || self.problem.is_some()
    }

    fn fail(&mut self, row: &StoredRow, problem: String) {
        self.first_bad = Some(row.id.clone());
        self.problem = Some(problem);
    }

    pub fn check(&mut self, row: &StoredRow) {
        if self.failed() {
            return;
        }
        self.events += 1;
        if row.seq != self.expected_seq {
            return self.fail(
                row,
                format!(
                    "event seq {} follows seq {}: its predecessor is missing",
                    row.seq,
                    self.expected_seq - 1
                ),
            );
        }
        if row.prev_hash != self.prev_hash {
            return self.fail(
                row,
                format!("event seq {} does not chain to its predecessor", row.seq),
            );
        }
        let recomputed = chain_hash(&self.prev_hash, &row.body);
        if recomputed != row.hash {
            return self.fail(row, format!("event seq {} was altered", row.seq));
        }
        // The body is what is hashed; the columns used for filtering must agree with it, or
        // an edited column could hide an event from a filtered read.
        let content: Result<EventContent, _> = serde_json::from_str(&row.body);
        let consistent = match &content {
            Ok(c) => {
                c.canonical() == row.body
                    && c.id.to_string() == row.id
                    && c.seq == row.seq
                    && c.kind.as_str() == row.kind
                    && crate::clock::format_ts(&c.at) == row.at
                    && c.subject.id == row.subject_id
                    && c.decision == row.decision
            }
            Err(_) => false,
        };
        if !consistent {
            return self.fail(row, format!("event seq {} was altered", row.seq));
        }
        self.prev_hash = row.hash.clone();
        self.expected_seq += 1;
    }

    /// Finishes against the head the store recorded.
    pub fn finish(mut self, head_seq: i64, head_hash: &str) -> VerifyReport {
        if !self.failed() && (self.expected_seq - 1 != head_seq || self.prev_hash != head_hash) {
            self.problem = Some(format!(
                "the chain ends at seq {} but the recorded head is seq {}: events are missing from the tail",
                self.expected_seq - 1,
                head_seq
            ));
        }
        VerifyReport {
            ok: !self.failed(),
            events: self.events,
            head_seq,
            head_hash: head_hash.to_string(),
            first_bad: self.first_bad,
            problem: self.problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_event_kind_is_listed_once_under_its_wire_name() {
        let names: std::collections::HashSet<&str> =
            EventKind::ALL.iter().map(EventKind::as_str).collect();
        assert_eq!(names.len(), EventKind::ALL.len());
        for k in EventKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
            let back: EventKind = serde_json::from_value(json!(k.as_str())).unwrap();
            assert_eq!(back, k);
        }
    }

    #[test]
    fn canonical_sorts_keys_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [1, {"y": "x", "c": null}], "m": "q\"s"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"m":"q\"s","z":[1,{"c":null,"y":"x"}]},"b":1}"#
        );
    }

    fn event(seq: i64) -> EventContent {
        EventContent::place(
            NewEvent::new(
                crate::clock::parse_ts("2024-01-01T00:00:00.5Z").unwrap(),
                Actor::cli(),
                EventKind::KeyCreate,
                Subject::new("key", "k1"),
            ),
            EventId::new(),
            seq,
        )
    }

    /// The stored rows of `events`, chained from the genesis hash in order.
    fn chained(events: impl IntoIterator<Item = EventContent>) -> Vec<StoredRow> {
        let mut prev = GENESIS_HASH.to_string();
        events
            .into_iter()
            .map(|c| {
                let body = c.canonical();
                let hash = chain_hash(&prev, &body);
                let row = StoredRow {
                    id: c.id.to_string(),
                    seq: c.seq,
                    kind: c.kind.as_str().into(),
                    at: crate::clock::format_ts(&c.at),
                    subject_id: c.subject.id.clone(),
                    decision: c.decision.clone(),
                    body,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                row
            })
            .collect()
    }

    fn rows(n: i64) -> Vec<StoredRow> {
        chained((1..=n).map(event))
    }

    fn verify(rows: &[StoredRow], head_seq: i64, head_hash: &str) -> VerifyReport {
        let mut v = ChainVerifier::new(0, GENESIS_HASH);
        for r in rows {
            v.check(r);
        }
        v.finish(head_seq, head_hash)
    }

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_does() {
        for s in [
            "plain",
            "q\"uote",
            "back\\slash",
            "nl\ncr\rtab\t",
            "\u{8}\u{c}\u{1}\u{1f}",
            "é ✓ /",
        ] {
            let v = Value::String(s.to_string());
            assert_eq!(canonical_json(&v), v.to_string(), "{s:?}");
            let k = json!({ s: s });
            assert_eq!(canonical_json(&k), k.to_string(), "{s:?}");
        }
    }

    #[test]
    fn direct_canonical_equals_sorted_value() {
        let kinds = [
            EventKind::Authorize,
            EventKind::GrantRequest,
            EventKind::GrantExtend,
            EventKind::GrantUpdate,
            EventKind::GrantRevoke,
            EventKind::GrantExpire,
            EventKind::PolicyCreate,
            EventKind::PolicyUpdate,
            EventKind::PolicyDelete,
            EventKind::SchemaUpdate,
            EventKind::EntitiesUpdate,
            EventKind::EntitiesDelete,
            EventKind::KeyCreate,
            EventKind::KeyRevoke,
            EventKind::AuthTenantMismatch,
        ];
        let odd = "q\"uo\\te\n\t\u{1}\u{1f}é😀\u{7f}";
        for (i, kind) in kinds.into_iter().enumerate() {
            let mut e = NewEvent::new(
                crate::clock::parse_ts("2024-02-29T23:59:59.000001Z").unwrap(),
                Actor {
                    key_id: format!("k{i}{odd}"),
                    role: "auditor".into(),
                    on_behalf_of: (i % 2 == 0).then(|| format!("user {odd}")),
                },
                kind,
                Subject::new(odd, format!("s{i}")),
            );
            // Every optional field present in some events and absent in others.
            if i % 3 != 0 {
                e.decision = Some("deny".into());
                e.deny_reason = (i % 3 == 1).then(|| "forbid".to_string());
                e.determining = Some(
                    (0..i % 4)
                        .map(|j| Determining {
                            policy_id: format!("p{j}{odd}"),
                            rule_id: format!("r{j}"),
                            effect: "forbid".into(),
                        })
                        .collect(),
                );
                e.notices = Some((0..i % 3).map(|j| format!("n{j} {odd}")).collect());
                e.policy_set_version = Some(i as i64 * 1_000_000_007 - 3);
            }
            if i % 4 != 1 {
                e.request = Some(serde_json::json!({
                    "z": [1, -2.5, 1e300, null, true, {"b": odd, "a": []}],
                    "principal": {"type": "User", "id": odd},
                    "A": {}, "é": 18446744073709551615u64, odd: i,
                }));
            }
            // Parts rendered before placement, which may move `at` forward.
            let rendered = e.clone().render().rendered.unwrap();
            e.at += chrono::Duration::microseconds(i as i64 * 1_000_003);
            let c = EventContent::place(e, EventId::new(), i as i64 * 7919 - 1);
            let oracle = canonical_json(&serde_json::to_value(&c).unwrap());
            assert_eq!(c.canonical(), oracle, "event {i}");
            assert_eq!(rendered.assemble(&c.at, &c.id, c.seq), oracle, "event {i}");
        }
    }

    /// JSON values as a context may carry them: any nesting up to the accepted limit,
    /// any text, integers.
    fn accepted_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        // Each level adds one array or object; the context object is one more.
        leaf.prop_recursive(
            (crate::cedar::limits::MAX_JSON_NESTING - 1) as u32,
            64,
            3,
            |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                    proptest::collection::btree_map(".{0,6}", inner, 0..3)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            },
        )
    }

    /// A chain of one event per value, read back exactly as the store's readers read it.
    fn chain_of(values: &[Value]) -> Vec<StoredRow> {
        chained(values.iter().enumerate().map(|(i, v)| {
            let mut e = NewEvent::new(
                crate::clock::parse_ts("2026-12-06T12:00:00.25Z").unwrap(),
                Actor::cli(),
                EventKind::Authorize,
                Subject::new("principal", "User::\"u\""),
            )
            .with_request(json!({"context": {"deep": v}, "entities": 0}));
            e.decision = Some("allow".into());
            EventContent::place(e.render(), EventId::new(), i as i64 + 1)
        }))
    }

    proptest::proptest! {
        /// Whatever the limits accept reads back (as the list endpoint parses it) and
        /// verifies: no accepted context can pass the JSON reader's own nesting limit.
        #[test]
        fn every_accepted_context_reads_back_and_verifies(values in proptest::collection::vec(accepted_value(), 1..4)) {
            for v in &values {
                let ctx = json!({ "deep": v });
                proptest::prop_assert!(crate::cedar::limits::check_json(&ctx).is_ok());
            }
            let rows = chain_of(&values);
            for (row, v) in rows.iter().zip(&values) {
                let read: EventContent = serde_json::from_str(&row.body).expect("the event reads back");
                proptest::prop_assert_eq!(&read.request.as_ref().unwrap()["context"]["deep"], v);
                proptest::prop_assert_eq!(read.canonical(), row.body.clone());
            }
            let head = rows.last().unwrap().hash.clone();
            let report = verify(&rows, rows.len() as i64, &head);
            proptest::prop_assert!(report.ok, "{:?}", report);
        }
    }

    #[test]
    fn the_deepest_accepted_context_reads_back() {
        let mut v = json!(1);
        for _ in 0..crate::cedar::limits::MAX_JSON_NESTING - 1 {
            v = json!({ "a": v });
        }
        assert!(crate::cedar::limits::check_json(&json!({ "deep": v })).is_ok());
        let rows = chain_of(std::slice::from_ref(&v));
        let read: EventContent = serde_json::from_str(&rows[0].body).unwrap();
        assert_eq!(read.request.unwrap()["context"]["deep"], v);
        assert!(verify(&rows, 1, &rows[0].hash.clone()).ok);
    }

    #[test]
    fn chain_hash_is_sha256_of_prev_and_body_in_lower_hex() {
        // sha256("0" * 64 + '{"a":1}'), by Python's hashlib.
        assert_eq!(
            chain_hash(GENESIS_HASH, r#"{"a":1}"#),
            "fc6cee09194dd2578bd7664604fcb72a539066fd34544cea0009c43eb6cdc289"
        );
    }

    #[test]
    fn canonical_timestamps_have_microseconds() {
        assert!(event(1)
            .canonical()
            .contains(r#""at":"2024-01-01T00:00:00.500000Z""#));
    }

    #[test]
    fn intact_chain_verifies() {
        let r = rows(5);
        let head = r[4].hash.clone();
        let rep = verify(&r, 5, &head);
        assert!(rep.ok, "{rep:?}");
        assert_eq!(rep.events, 5);
    }

    #[test]
    fn edited_body_is_caught() {
        let mut r = rows(3);
        let head = r[2].hash.clone();
        r[1].body = r[1].body.replace("k1", "k2");
        let rep = verify(&r, 3, &head);
        assert!(!rep.ok);
        assert_eq!(rep.first_bad.as_deref(), Some(r[1].id.as_str()));
    }

    #[test]
    fn edited_index_column_is_caught() {
        let mut r = rows(3);
        let head = r[2].hash.clone();
        r[2].kind = "grant.revoke".into();
        let rep = verify(&r, 3, &head);
        assert_eq!(rep.first_bad.as_deref(), Some(r[2].id.as_str()));
    }

    #[test]
    fn missing_event_is_caught() {
        let mut r = rows(4);
        let head = r[3].hash.clone();
        let removed = r.remove(1);
        let rep = verify(&r, 4, &head);
        assert!(!rep.ok);
        assert_ne!(rep.first_bad.as_deref(), Some(removed.id.as_str()));
        assert_eq!(rep.first_bad.as_deref(), Some(r[1].id.as_str()));
    }

    #[test]
    fn truncated_tail_is_caught() {
        let mut r = rows(4);
        let head = r[3].hash.clone();
        r.pop();
        let rep = verify(&r, 4, &head);
        assert!(!rep.ok);
        assert!(rep.problem.unwrap().contains("tail"));
    }
}
