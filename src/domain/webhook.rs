//! Webhooks: which grant changes become which provisioning events, their payloads, the
//! retry schedule, and the checks a destination URL must pass. Pure rules, unit-tested
//! here; the outbox rows are written by each store in the transaction of the change (see
//! `store::{sqlite,postgres}::outbox`) and sent by `service::webhooks`.

use super::audit::AuditEvent;
use super::grant::{Grant, GrantStatus};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use uuid::Uuid;

/// The event types a webhook may ask for.
pub const EVENT_TYPES: [&str; 8] = [
    "grant.requested",
    "grant.approval_required",
    "grant.approved",
    "grant.denied",
    "grant.activated",
    "grant.extended",
    "grant.revoked",
    "grant.expired",
];

/// At most this many webhooks per tenant.
pub const MAX_WEBHOOKS: i64 = 20;
/// At most this many bytes of a destination URL.
pub const MAX_URL: usize = 2048;
/// At most this many bytes of a receiver's answer are kept with a delivery.
pub const MAX_EXCERPT: usize = 512;

/// A webhook as the API returns it (never with its secret, which is shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    /// The event types delivered to it.
    pub event_types: Vec<String>,
    /// Only events of grants whose governing policy's `notification_channel` is this;
    /// null: events of every grant.
    pub channel: Option<String>,
    pub description: Option<String>,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// What the delivery worker needs to send one delivery.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub tenant: super::ids::TenantId,
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub url: String,
    pub secret: String,
    pub payload: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Delivered,
    /// Every attempt of the retry schedule failed; `POST …/retry` sends it again.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A delivery as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Also the `webhook-id` header of every attempt: receivers drop duplicates by it.
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_type: String,
    pub grant_id: Uuid,
    pub status: DeliveryStatus,
    pub attempts: i64,
    #[serde(with = "crate::clock::ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt (null: no answer, see `last_error`).
    pub last_status: Option<i64>,
    /// Why the last attempt failed, or the first 512 bytes of the receiver's answer.
    pub last_error: Option<String>,
    /// The signed body (the same on every attempt).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::clock::ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Whether an appended event may stand for a provisioning event: a grant's, not a refusal.
/// (Which ones it stands for depends on the grant: [`event_types`].)
pub fn may_notify(e: &AuditEvent) -> bool {
    e.content.subject.kind == "grant" && e.content.decision.as_deref() != Some("deny")
}

/// The provisioning events an appended audit event stands for, given the grant as the same
/// transaction left it. Refusals (`decision: deny`) stand for none.
pub fn event_types(e: &AuditEvent, g: &Grant) -> Vec<&'static str> {
    use super::audit::EventKind as K;
    let c = &e.content;
    if c.decision.as_deref() == Some("deny") {
        return Vec::new();
    }
    match c.kind {
        K::GrantRequest if g.status == GrantStatus::PendingApproval => {
            vec!["grant.requested", "grant.approval_required"]
        }
        K::GrantRequest => vec!["grant.requested", "grant.activated"],
        K::GrantApprove if g.status.is_active() => vec!["grant.approved", "grant.activated"],
        K::GrantApprove => vec!["grant.approved"],
        K::GrantDeny => vec!["grant.denied"],
        K::GrantExtend => vec!["grant.extended"],
        K::GrantRevoke => vec!["grant.revoked"],
        K::GrantExpire | K::GrantApprovalExpire => vec!["grant.expired"],
        // a re-evaluation that revoked it, an admin's PUT that revoked or expired it
        K::GrantReevaluate | K::GrantUpdate => match g.status {
            GrantStatus::Revoked => vec!["grant.revoked"],
            GrantStatus::Expired => vec!["grant.expired"],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The body of one delivery: `{"type", "timestamp", "data"}` as Standard Webhooks
/// suggests; `data` holds the grant as the change left it, the audit event's id, kind and
/// actor, and the governing policy's `notification_channel`.
pub fn payload(event_type: &str, e: &AuditEvent, g: &Grant, channel: Option<&str>) -> String {
    serde_json::json!({
        "type": event_type,
        "timestamp": crate::clock::format_ts(&e.content.at),
        "data": {
            "grant": g,
            "audit_event_id": e.content.id,
            "audit_kind": e.content.kind.as_str(),
            "actor": e.content.actor,
            "notification_channel": channel,
        }
    })
    .to_string()
}

/// Whether a webhook asking for `types` on `channel` gets `event_type` of a grant whose
/// policy's channel is `grant_channel`.
pub fn wants(
    types: &[String],
    channel: Option<&str>,
    event_type: &str,
    grant_channel: Option<&str>,
) -> bool {
    types.iter().any(|t| t == event_type) && channel.is_none_or(|c| Some(c) == grant_channel)
}

/// Multiples of the retry base (5 s by default) before each retry: 5 s, 5 min, 30 min, 2 h,
/// 5 h, 10 h, 10 h: eight attempts over about 27.6 hours, then the delivery is dead.
pub const RETRY_STEPS: [i64; 7] = [1, 60, 360, 1440, 3600, 7200, 7200];

/// When the next attempt after `attempts` failed ones is due, with up to ±20 % jitter
/// (`jitter` in [0, 1)), or `None` when the schedule is used up (dead letter).
pub fn next_attempt(
    now: DateTime<Utc>,
    attempts: i64,
    base: std::time::Duration,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let step = *RETRY_STEPS.get(usize::try_from(attempts - 1).ok()?)?;
    let millis = base.as_millis() as f64 * step as f64 * (0.8 + 0.4 * jitter);
    Some(now + Duration::milliseconds(millis as i64))
}

/// What a destination URL may be.
#[derive(Debug, Clone, Copy, Default)]
pub struct UrlPolicy {
    /// `http://` too (`--allow-insecure-webhooks`).
    pub allow_insecure: bool,
    /// Loopback, private, link-local and other non-public addresses too
    /// (`--allow-private-webhooks`).
    pub allow_private: bool,
}

/// Whether `ip` is an address a webhook may reach without `allow_private`: a public
/// unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // shared address space
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
                || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // forms that carry an IPv4 address a gateway may map to (IPv4-compatible,
            // NAT64, 6to4): public only if that address is
            let v4 = |hi: u16, lo: u16| {
                std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
            };
            let nat64 = s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0; 4] || s[2] == 1);
            let embedded = if s[..6] == [0; 6] || nat64 {
                Some(v4(s[6], s[7]))
            } else if s[0] == 0x2002 {
                Some(v4(s[1], s[2]))
            } else {
                None
            };
            if let Some(v4) = embedded {
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
                || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard
                || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
                || (s[0] & 0xe000) != 0x2000) // outside global unicast 2000::/3
        }
    }
}

/// Checks a destination URL as written: its scheme, and a host that names no non-public
/// address (an IP literal, `localhost`). Host names are checked again at every delivery,
/// on the addresses they resolve to (see `service::webhooks`).
pub fn check_url(raw: &str, policy: UrlPolicy) -> Result<reqwest::Url, String> {
    if raw.len() > MAX_URL {
        return Err(format!("url: at most {MAX_URL} bytes"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| format!("url: not a URL ({e})"))?;
    // as it will be stored and sent (percent-encoding may lengthen it)
    if url.as_str().len() > MAX_URL {
        return Err(format!("url: at most {MAX_URL} bytes once encoded"));
    }
    if url.port() == Some(0) {
        return Err("url: port 0 is not a port".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_insecure => {}
        "http" => {
            return Err(
                "url: must be https (http is allowed only with --allow-insecure-webhooks)".into(),
            )
        }
        other => return Err(format!("url: scheme {other:?} is not http(s)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url: must not carry credentials (sign with the webhook's secret)".into());
    }
    let host = url.host().ok_or("url: has no host")?;
    if !policy.allow_private {
        let private = match host {
            url::Host::Ipv4(ip) => !is_public(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => !is_public(IpAddr::V6(ip)),
            url::Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
        };
        if private {
            return Err(
                "url: names a loopback, private or otherwise non-public address (allowed only \
                 with --allow-private-webhooks)"
                    .into(),
            );
        }
    }
    Ok(url)
}

/// A new signing secret: `whsec_` and 32 random bytes in base64 (the Standard Webhooks
/// form).
pub fn new_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_cover_a_day_then_stop() {
        let now = Utc::now();
        let base = std::time::Duration::from_secs(5);
        let mut total = 0i64;
        for attempts in 1..=7 {
            let lo = next_attempt(now, attempts, base, 0.0).unwrap();
            let hi = next_attempt(now, attempts, base, 0.999_999).unwrap();
            assert!(lo < hi, "jitter spreads attempt {attempts}");
            total += (next_attempt(now, attempts, base, 0.5).unwrap() - now).num_seconds();
        }
        assert!(total >= 24 * 3600, "{total} s of retries");
        assert_eq!(
            next_attempt(now, 8, base, 0.5),
            None,
            "dead after eight attempts"
        );
        assert_eq!(next_attempt(now, 0, base, 0.5), None);
    }

    #[test]
    fn urls_are_checked() {
        let strict = UrlPolicy::default();
        assert!(check_url("https://hooks.example.com/grantd", strict).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://192.168.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[::127.0.0.1]/x",
            "https://[64:ff9b::7f00:1]/x",
            "https://[64:ff9b::a00:1]/x",
            "https://[::ffff:0:7f00:1]/x",
            "https://[2002:7f00:1::]/x",
            "https://[fec0::1]/x",
            "https://[100::1]/x",
            "https://hooks.example.com:0/x",
            "https://localhost/x",
            "https://a.localhost./x",
            "https://0.0.0.0/x",
            "https://user:pw@hooks.example.com/x",
            "not a url",
        ] {
            assert!(check_url(bad, strict).is_err(), "{bad}");
        }
        let open = UrlPolicy {
            allow_insecure: true,
            allow_private: true,
        };
        assert!(check_url("http://127.0.0.1:8080/x", open).is_ok());
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(MAX_URL)), open).is_err());
        // the length that counts is the encoded one
        assert!(check_url(&format!("https://e.com/{}", "é".repeat(1000)), open).is_err());
        assert!(check_url("https://[2606:4700::1111]/x", strict).is_ok());
        assert!(
            check_url("https://[64:ff9b::808:808]/x", strict).is_ok(),
            "NAT64 of a public address"
        );
    }

    #[test]
    fn channels_narrow_what_a_webhook_gets() {
        let all: Vec<String> = EVENT_TYPES.iter().map(|s| s.to_string()).collect();
        assert!(wants(&all, None, "grant.revoked", None));
        assert!(wants(&all, None, "grant.revoked", Some("prod")));
        assert!(wants(&all, Some("prod"), "grant.revoked", Some("prod")));
        assert!(!wants(&all, Some("prod"), "grant.revoked", Some("dev")));
        assert!(!wants(&all, Some("prod"), "grant.revoked", None));
        assert!(!wants(&all[..1], None, "grant.revoked", None));
    }

    #[test]
    fn secrets_are_standard_webhooks_keys() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert!(standardwebhooks::Webhook::new(&s).is_ok());
        assert_ne!(s, new_secret());
    }
}
