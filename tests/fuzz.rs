//! Property test: random and malformed methods, paths, headers and bodies never get a 5xx,
//! and every error carries the envelope.

mod common;

use common::TestServer;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;

const PATHS: &[&str] = &[
    "/v1/keys",
    "/v1/keys/0190a5e0-0000-7000-8000-00000000abcd",
    "/v1/keys/not-a-uuid",
    "/v1/audit-events/verify",
    "/v1/policies",
    "/v1/policies/engineering-read",
    "/v1/policies/0190a5e0-0000-7000-8000-00000000abcd",
    "/v1/schema",
    "/v1/entities",
    "/v1/entities/User/alice",
    "/v1/authorize",
    "/v1/authorize/batch",
    "/v1/policy-set-versions/1",
    "/v1/grants",
    "/v1/grants/0190a5e0-0000-7000-8000-00000000abcd",
    "/v1/grants/0190a5e0-0000-7000-8000-00000000abcd/extend",
    "/v1/grants/0190a5e0-0000-7000-8000-00000000abcd/revoke",
    "/v1/access/check",
    "/v1/grants/list",
    "/v1/grants/revoke",
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
    "/v1",
];

#[derive(Debug, Clone)]
enum KeyChoice {
    None,
    Admin,
    Garbage(Vec<u8>),
}

#[derive(Debug, Clone)]
enum TenantChoice {
    None,
    Own,
    Other,
    Garbage(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    path: String,
    key: KeyChoice,
    tenant: TenantChoice,
    on_behalf_of: Option<Vec<u8>>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    // Anything a header may carry on the wire: visible ASCII, spaces, tabs and obs-text.
    prop::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff], 0..80)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![Just("admin"), Just("auditor"), Just("root"), Just("")]
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("role".to_string()),
                    Just("name".to_string()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn case() -> impl Strategy<Value = Case> {
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
    let path = (
        prop::sample::select(PATHS.to_vec()),
        prop_oneof![
            Just(String::new()),
            "/[a-zA-Z0-9._~-]{0,12}",
            prop::collection::vec(any::<u8>(), 1..12).prop_map(|b| {
                let enc: String = b.iter().map(|x| format!("%{x:02X}")).collect();
                format!("/{enc}")
            }),
            "\\?[a-z_]{1,8}=[a-zA-Z0-9%]{0,12}",
        ],
    )
        .prop_map(|(p, suffix)| format!("{p}{suffix}"));
    let key = prop_oneof![
        Just(KeyChoice::None),
        Just(KeyChoice::Admin),
        header_bytes().prop_map(KeyChoice::Garbage)
    ];
    let tenant = prop_oneof![
        Just(TenantChoice::None),
        Just(TenantChoice::Own),
        Just(TenantChoice::Other),
        header_bytes().prop_map(TenantChoice::Garbage)
    ];
    let content_type = prop_oneof![
        Just(None),
        Just(Some("application/json".to_string())),
        Just(Some("text/plain".to_string())),
        "[ -~]{0,30}".prop_map(Some),
    ];
    let body = prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ];
    (
        method,
        path,
        key,
        tenant,
        prop::option::of(header_bytes()),
        content_type,
        body,
    )
        .prop_map(
            |(method, path, key, tenant, on_behalf_of, content_type, body)| Case {
                method,
                path,
                key,
                tenant,
                on_behalf_of,
                content_type,
                body,
            },
        )
}

backends! {
    #[test]
    fn random_requests_never_get_a_5xx_and_errors_have_the_envelope() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (server, tenant) = rt.block_on(async {
            let s = TestServer::start().await;
            let t = s.tenant().await;
            (s, t)
        });
        let mut runner = TestRunner::new(PtConfig {
            cases: 400,
            failure_persistence: None,
            ..PtConfig::default()
        });
        let result = runner.run(&case(), |c| {
            let (status, ct, text) = rt.block_on(async {
                let url = format!("{}{}", server.base, c.path);
                let mut req = server
                    .client
                    .request(c.method.parse().unwrap(), url)
                    .body(c.body.clone());
                let mut set = |name: &str, value: &[u8]| {
                    if let Ok(v) = HeaderValue::from_bytes(value) {
                        req = std::mem::replace(&mut req, server.client.get("http://unused"))
                            .header(HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
                    }
                };
                match &c.key {
                    KeyChoice::None => {}
                    KeyChoice::Admin => set("x-api-key", tenant.admin_key.as_bytes()),
                    KeyChoice::Garbage(b) => set("x-api-key", b),
                }
                match &c.tenant {
                    TenantChoice::None => {}
                    TenantChoice::Own => set("x-tenant-id", tenant.id.as_bytes()),
                    TenantChoice::Other => {
                        set("x-tenant-id", b"0190a5e0-0000-7000-8000-000000000009")
                    }
                    TenantChoice::Garbage(b) => set("x-tenant-id", b),
                }
                if let Some(b) = &c.on_behalf_of {
                    set("x-on-behalf-of", b);
                }
                if let Some(ct) = &c.content_type {
                    set("content-type", ct.as_bytes());
                }
                let resp = req.send().await.expect("server answers");
                let status = resp.status();
                let ct = resp
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                (status, ct, resp.text().await.unwrap_or_default())
            });
            prop_assert!(!status.is_server_error(), "{c:?} -> {status} {text}");
            if status.is_client_error() {
                prop_assert!(
                    ct.starts_with("application/json"),
                    "{c:?} -> {status} {ct} {text}"
                );
                let v: Value = serde_json::from_str(&text).map_err(|e| {
                    TestCaseError::fail(format!("{c:?} -> {status}: not JSON ({e}): {text}"))
                })?;
                prop_assert!(
                    v["code"].is_string() && v["message"].is_string(),
                    "{c:?} -> {text}"
                );
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        drop(server);
    }
}
