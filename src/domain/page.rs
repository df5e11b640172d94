//! Pagination shared by every list: `per_page` (1..=100, default 25), a 1-based `page`, and
//! an opaque keyset cursor `next_page_token` that wins over `page`.
//!
//! A cursor carries the sort key of the last item it returned and its page number. It is
//! signed (HMAC-SHA-256 with a per-database secret) over the tenant and the list's *scope* —
//! the resource, sort order and filters it was issued for — so a token that was edited, or
//! that is replayed against another query or in another tenant, is refused instead of
//! silently returning the wrong page.

use super::ids::TenantId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

pub const DEFAULT_PER_PAGE: i64 = 25;
pub const MAX_PER_PAGE: i64 = 100;

/// What one list call asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub per_page: i64,
    pub page: i64,
    /// The sort key of the last item already returned (from `next_page_token`).
    pub after: Option<Value>,
}

impl PageRequest {
    /// Rows to skip before the first item: `(page - 1) * per_page` without a cursor.
    pub fn offset(&self) -> i64 {
        if self.after.is_some() {
            0
        } else {
            (self.page - 1) * self.per_page
        }
    }
}

#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl CursorCodec {
    pub fn new(key: &[u8]) -> Self {
        CursorCodec { key: key.to_vec() }
    }

    fn mac(&self, tenant: TenantId, scope: &str, payload: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(tenant.0.as_bytes());
        mac.update(b"\n");
        mac.update(scope.as_bytes());
        mac.update(b"\n");
        mac.update(payload.as_bytes());
        mac
    }

    pub fn encode(&self, tenant: TenantId, scope: &str, after: &Value, page: i64) -> String {
        let payload = serde_json::json!({"a": after, "p": page}).to_string();
        let tag = self.mac(tenant, scope, &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// `(after, page)` of a token issued in `tenant` for `scope`.
    pub fn decode(
        &self,
        tenant: TenantId,
        scope: &str,
        token: &str,
    ) -> Result<(Value, i64), String> {
        let bad = || "next_page_token was altered or belongs to another query".to_string();
        let (payload, tag) = token.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        let payload = String::from_utf8(payload).map_err(|_| bad())?;
        self.mac(tenant, scope, &payload)
            .verify_slice(&tag)
            .map_err(|_| bad())?;
        let v: Value = serde_json::from_str(&payload).map_err(|_| bad())?;
        let page = v["p"].as_i64().filter(|p| *p >= 1).ok_or_else(bad)?;
        Ok((v["a"].clone(), page))
    }

    /// Parses the shared query parameters of a list.
    pub fn page_request(
        &self,
        tenant: TenantId,
        scope: &str,
        per_page: Option<&str>,
        page: Option<&str>,
        next_page_token: Option<&str>,
    ) -> Result<PageRequest, String> {
        let per_page = match per_page {
            None => DEFAULT_PER_PAGE,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_PER_PAGE).contains(n))
                .ok_or_else(|| format!("per_page: must be an integer from 1 to {MAX_PER_PAGE}"))?,
        };
        let token = next_page_token.filter(|t| !t.is_empty());
        // the token wins: `page` is not even read next to one
        let page_no = match page.filter(|_| token.is_none()) {
            None => 1,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| "page: must be an integer from 1 to 1000000".to_string())?,
        };
        match token {
            Some(token) => {
                let (after, page) = self.decode(tenant, scope, token)?;
                Ok(PageRequest {
                    per_page,
                    page,
                    after: Some(after),
                })
            }
            None => Ok(PageRequest {
                per_page,
                page: page_no,
                after: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: TenantId = TenantId(uuid::Uuid::from_u128(1));

    fn codec() -> CursorCodec {
        CursorCodec::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip() {
        let c = codec();
        let t = c.encode(T, "policies", &json!(["2024", "id-1"]), 3);
        assert_eq!(
            c.decode(T, "policies", &t).unwrap(),
            (json!(["2024", "id-1"]), 3)
        );
    }

    #[test]
    fn tampered_or_mismatched_tokens_are_refused() {
        let c = codec();
        let t = c.encode(T, "policies", &json!("id-1"), 2);
        assert!(c.decode(T, "entities", &t).is_err(), "another scope");
        assert!(
            c.decode(TenantId(uuid::Uuid::from_u128(2)), "policies", &t)
                .is_err(),
            "another tenant"
        );
        let (payload, tag) = t.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(r#"{"a":"id-9","p":2}"#);
        assert!(c
            .decode(T, "policies", &format!("{forged_payload}.{tag}"))
            .is_err());
        let mut chars: Vec<char> = tag.chars().collect();
        chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
        let forged_tag: String = chars.into_iter().collect();
        assert!(c
            .decode(T, "policies", &format!("{payload}.{forged_tag}"))
            .is_err());
        assert!(c.decode(T, "policies", "garbage").is_err());
        assert!(c.decode(T, "policies", "").is_err());
        let other = CursorCodec::new(b"another key");
        assert!(other.decode(T, "policies", &t).is_err(), "another database");
    }

    #[test]
    fn page_parameters() {
        let c = codec();
        let p = c.page_request(T, "s", None, None, None).unwrap();
        assert_eq!((p.per_page, p.page, p.offset()), (25, 1, 0));
        let p = c.page_request(T, "s", Some("10"), Some("3"), None).unwrap();
        assert_eq!(p.offset(), 20);
        for bad in ["0", "101", "x", "-1", "1.5"] {
            assert!(
                c.page_request(T, "s", Some(bad), None, None).is_err(),
                "{bad}"
            );
            assert!(
                bad == "101" || c.page_request(T, "s", None, Some(bad), None).is_err(),
                "{bad}"
            );
        }
        let t = c.encode(T, "s", &json!("k"), 4);
        let p = c
            .page_request(T, "s", Some("10"), Some("1"), Some(&t))
            .unwrap();
        assert_eq!((p.page, p.offset(), p.after), (4, 0, Some(json!("k"))));
        // with a token, a bad `page` does not matter
        assert!(c.page_request(T, "s", None, Some("0"), Some(&t)).is_ok());
    }
}
