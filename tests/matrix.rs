//! The role × route matrix: every route in `/openapi.json` is called with every role, and
//! the outcome must match one table that mirrors the contract's role table. A route added
//! without a row here fails this test.

mod common;

use common::TestServer;
use reqwest::Method;
use std::collections::BTreeSet;

const ADMIN: &str = "admin";
const AUTHOR: &str = "author";
const REQUESTER: &str = "requester";
const AUDITOR: &str = "auditor";

/// `None`: no authentication (operations). `Some(roles)`: the roles that may call it.
const TABLE: &[(&str, &str, Option<&[&str]>)] = &[
    ("GET", "/healthz", None),
    ("GET", "/readyz", None),
    ("GET", "/metrics", None),
    ("POST", "/v1/keys", Some(&[ADMIN])),
    ("GET", "/v1/keys", Some(&[ADMIN])),
    ("DELETE", "/v1/keys/{id}", Some(&[ADMIN])),
    ("GET", "/v1/audit-events/verify", Some(&[ADMIN, AUDITOR])),
    (
        "GET",
        "/v1/quota",
        Some(&[ADMIN, AUTHOR, REQUESTER, AUDITOR]),
    ),
    ("PUT", "/v1/quota", Some(&[ADMIN])),
    ("POST", "/v1/policies", Some(&[ADMIN, AUTHOR])),
    ("GET", "/v1/policies", Some(&[ADMIN, AUTHOR, AUDITOR])),
    ("GET", "/v1/policies/{id}", Some(&[ADMIN, AUTHOR, AUDITOR])),
    ("PATCH", "/v1/policies/{id}", Some(&[ADMIN, AUTHOR])),
    ("DELETE", "/v1/policies/{id}", Some(&[ADMIN, AUTHOR])),
    ("POST", "/v1/policies/test", Some(&[ADMIN, AUTHOR])),
    ("GET", "/v1/policies/test", Some(&[ADMIN, AUTHOR, AUDITOR])),
    ("PATCH", "/v1/policies/test", Some(&[ADMIN, AUTHOR])),
    ("DELETE", "/v1/policies/test", Some(&[ADMIN, AUTHOR])),
    ("GET", "/v1/schema", Some(&[ADMIN, AUTHOR, AUDITOR])),
    ("PUT", "/v1/schema", Some(&[ADMIN, AUTHOR])),
    ("PUT", "/v1/entities", Some(&[ADMIN, AUTHOR])),
    ("GET", "/v1/entities", Some(&[ADMIN, AUTHOR, AUDITOR])),
    ("DELETE", "/v1/entities/{type}/{id}", Some(&[ADMIN, AUTHOR])),
    ("POST", "/v1/changes/preview", Some(&[ADMIN, AUTHOR])),
    ("GET", "/v1/settings", Some(&[ADMIN, AUTHOR, AUDITOR])),
    ("PUT", "/v1/settings", Some(&[ADMIN])),
    (
        "GET",
        "/v1/reevaluations/{id}",
        Some(&[ADMIN, AUTHOR, AUDITOR]),
    ),
    ("POST", "/v1/authorize", Some(&[ADMIN, AUTHOR, REQUESTER])),
    (
        "POST",
        "/v1/authorize/batch",
        Some(&[ADMIN, AUTHOR, REQUESTER]),
    ),
    (
        "GET",
        "/v1/policy-set-versions/{version}",
        Some(&[ADMIN, AUTHOR, AUDITOR]),
    ),
    ("GET", "/v1/audit-events", Some(&[ADMIN, AUDITOR])),
    ("POST", "/v1/grants", Some(&[ADMIN, REQUESTER])),
    ("GET", "/v1/grants/{id}", Some(&[ADMIN, REQUESTER, AUDITOR])),
    ("PUT", "/v1/grants/{id}", Some(&[ADMIN, REQUESTER])),
    ("POST", "/v1/grants/{id}/extend", Some(&[ADMIN, REQUESTER])),
    ("POST", "/v1/grants/{id}/revoke", Some(&[ADMIN, REQUESTER])),
    ("POST", "/v1/grants/{id}/approve", Some(&[ADMIN, REQUESTER])),
    ("POST", "/v1/grants/{id}/deny", Some(&[ADMIN, REQUESTER])),
    ("GET", "/v1/approvals", Some(&[ADMIN, REQUESTER])),
    ("POST", "/v1/webhooks", Some(&[ADMIN])),
    ("GET", "/v1/webhooks", Some(&[ADMIN])),
    ("GET", "/v1/webhooks/{id}", Some(&[ADMIN])),
    ("DELETE", "/v1/webhooks/{id}", Some(&[ADMIN])),
    ("GET", "/v1/webhooks/{id}/deliveries", Some(&[ADMIN])),
    (
        "POST",
        "/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
        Some(&[ADMIN]),
    ),
    ("POST", "/v1/access/check", Some(&[ADMIN, REQUESTER])),
    (
        "POST",
        "/v1/grants/list",
        Some(&[ADMIN, REQUESTER, AUDITOR]),
    ),
    ("POST", "/v1/grants/revoke", Some(&[ADMIN])),
];

backends! {
    #[tokio::test]
    async fn every_route_is_in_the_table_and_enforces_it() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let mut keys = vec![(ADMIN, t.admin_key.clone())];
        for role in [AUTHOR, REQUESTER, AUDITOR] {
            keys.push((role, s.key(&t, role).await));
        }

        let spec = s.call(Method::GET, "/openapi.json", None, None, None).await;
        assert_eq!(spec.status, 200);
        assert!(spec.body["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut documented = BTreeSet::new();
        for (path, item) in spec.body["paths"].as_object().unwrap() {
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_some() {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let table: BTreeSet<(String, String)> = TABLE
            .iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        let missing: Vec<_> = documented.difference(&table).collect();
        assert!(
            missing.is_empty(),
            "routes without a row in the matrix: {missing:?}"
        );
        let stale: Vec<_> = table.difference(&documented).collect();
        assert!(
            stale.is_empty(),
            "rows for routes that do not exist: {stale:?}"
        );

        for (method, path, allowed) in TABLE {
            let concrete = path
                .replace("{id}", "0190a5e0-0000-7000-8000-00000000abcd")
                .replace("{type}", "User")
                .replace("{version}", "0");
            let m: Method = method.parse().unwrap();
            let body = matches!(*method, "POST" | "PUT" | "PATCH").then(|| serde_json::json!({}));
            match allowed {
                None => {
                    let r = s.call(m.clone(), &concrete, None, None, body.clone()).await;
                    assert_eq!(r.status, 200, "{method} {path} without auth: {}", r.text);
                }
                Some(roles) => {
                    // without a key: 401 for every authenticated route
                    let r = s
                        .call(m.clone(), &concrete, None, Some(&t.id), body.clone())
                        .await;
                    r.assert_error(401, "unauthenticated");
                    for (role, key) in &keys {
                        let r = s
                            .call(m.clone(), &concrete, Some(key), Some(&t.id), body.clone())
                            .await;
                        if roles.contains(role) {
                            assert!(
                                r.status != 401
                                    && r.code() != "forbidden"
                                    && !r.status.is_server_error(),
                                "{role} should be allowed to {method} {path}: {} {}",
                                r.status,
                                r.text
                            );
                        } else {
                            assert_eq!(
                                (r.status.as_u16(), r.code()),
                                (403, "forbidden"),
                                "{role} must be forbidden to {method} {path}: {}",
                                r.text
                            );
                        }
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn openapi_documents_errors_and_auth_for_every_operation() {
        let s = TestServer::start().await;
        let spec = s
            .call(Method::GET, "/openapi.json", None, None, None)
            .await
            .body;
        assert!(spec["components"]["securitySchemes"]["api_key"].is_object());
        assert!(spec["components"]["schemas"]["ErrorBody"].is_object());
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                // Parameters are where they are read: a path parameter names a variable of
                // the path's template and every variable is one; each (name, in) once.
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let mut seen = std::collections::HashSet::new();
                for p in &params {
                    let (name, at) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                    assert!(seen.insert((name.to_lowercase(), at)), "{method} {path}: {name} twice in {at}");
                    if at == "path" {
                        assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: {name} is not in the path");
                    }
                }
                for var in path.split('{').skip(1).map(|v| v.split('}').next().unwrap()) {
                    assert!(
                        params.iter().any(|p| p["in"] == "path" && p["name"] == var),
                        "{method} {path}: {{{var}}} is not declared"
                    );
                }
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("500"), "{method} {path}");
                if path.starts_with("/v1/") {
                    for status in ["400", "401", "403", "404"] {
                        assert!(
                            responses.contains_key(status),
                            "{method} {path} lacks {status}"
                        );
                    }
                    let params = op["parameters"].as_array().unwrap();
                    assert!(params.iter().any(|p| p["name"] == "X-Tenant-ID"));
                    assert!(op["security"].is_array());
                }
            }
        }
        // The interactive docs page is served.
        let docs = s
            .client
            .get(format!("{}/docs", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(docs.status(), 200);
        assert!(docs.text().await.unwrap().to_lowercase().contains("<html"));
    }
}
