//! Quotas over HTTP: a tenant over its quota gets 429 with `Retry-After` and `RateLimit-*`
//! while another tenant is served; a key's quota is its own; a batch counts every request
//! in it; a tenant's own limit takes effect without a restart; a tenant's admin can lower
//! its tenant's limit and never raise it; refusals decide and audit nothing, and create no
//! grant.

mod common;

use common::{send, Tenant, TestServer};
use grantd::service::quotas::{Limit, QuotaDefaults, QuotaSetter};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn authorize_body() -> Value {
    common::permitted_request()
}

async fn authorize(s: &TestServer, t: &Tenant, key: &str) -> common::Resp {
    send(
        s,
        key,
        t,
        Method::POST,
        "/v1/authorize",
        Some(authorize_body()),
    )
    .await
}

/// The tenant's `authorize` events, read through the API (which moves journaled decision
/// events in first).
async fn authorize_events(s: &TestServer, t: &Tenant) -> usize {
    let r = send(
        s,
        &t.admin_key,
        t,
        Method::GET,
        "/v1/audit-events?kind=authorize&per_page=100",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut n = r.body["items"].as_array().unwrap().len();
    let mut token = r.body["next_page_token"].as_str().map(str::to_string);
    while let Some(tok) = token {
        let r = send(
            s,
            &t.admin_key,
            t,
            Method::GET,
            &format!("/v1/audit-events?kind=authorize&per_page=100&next_page_token={tok}"),
            None,
        )
        .await;
        n += r.body["items"].as_array().unwrap().len();
        token = r.body["next_page_token"].as_str().map(str::to_string);
    }
    n
}

fn limit(rps: u32, burst: u32) -> Option<Limit> {
    Some(Limit::new(rps, burst).unwrap())
}

backends! {
    #[tokio::test]
    async fn a_tenant_over_its_quota_gets_429_while_another_is_served() {
        let s = TestServer::start_with(|c| {
            c.quotas = QuotaDefaults { tenant: limit(1, 5), key: None }
        })
        .await;
        let (a, b) = (s.tenant().await, s.tenant().await);
        common::seed_permit_all(&s, &a, 1).await;
        common::seed_permit_all(&s, &b, 1).await;
        for _ in 0..5 {
            let r = authorize(&s, &a, &a.admin_key).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let r = authorize(&s, &a, &a.admin_key).await;
        r.assert_error(429, "rate_limited");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
        assert_eq!(r.headers["ratelimit-limit"], "5");
        assert_eq!(r.headers["ratelimit-remaining"], "0");
        assert!(r.headers.contains_key("ratelimit-reset"));
        // The other tenant is served, and so are tenant A's other calls (their own budget).
        let r = authorize(&s, &b, &b.admin_key).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(&s, &a.admin_key, &a, Method::GET, "/v1/policies", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        // The refused call decided nothing and wrote no event.
        assert_eq!(authorize_events(&s, &a).await, 5);
        // Tokens come back at the tenant's rate.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = authorize(&s, &a, &a.admin_key).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let metrics = s.client.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
        assert!(
            metrics.lines().any(|l| l.starts_with("grantd_rate_limited_total") && l.contains(&a.id) && l.contains("scope=\"tenant\"")),
            "refusals are counted per tenant"
        );
    }

    #[tokio::test]
    async fn a_keys_quota_is_its_own() {
        let s = TestServer::start_with(|c| {
            c.quotas = QuotaDefaults { tenant: None, key: limit(1, 5) }
        })
        .await;
        let t = s.tenant().await;
        common::seed_permit_all(&s, &t, 1).await;
        let first = s.key(&t, "requester").await;
        let second = s.key(&t, "requester").await;
        for _ in 0..5 {
            assert_eq!(authorize(&s, &t, &first).await.status, 200);
        }
        authorize(&s, &t, &first).await.assert_error(429, "rate_limited");
        // Another key of the same tenant has its own bucket.
        for _ in 0..5 {
            assert_eq!(authorize(&s, &t, &second).await.status, 200);
        }
        authorize(&s, &t, &second).await.assert_error(429, "rate_limited");
    }

    /// A call its key refuses costs its tenant nothing: one runaway key cannot spend the
    /// budget of the tenant's other keys.
    #[tokio::test]
    async fn a_runaway_key_does_not_spend_its_tenants_budget() {
        let s = TestServer::start_with(|c| {
            c.quotas = QuotaDefaults { tenant: limit(1, 12), key: limit(1, 5) }
        })
        .await;
        let t = s.tenant().await;
        let runaway = s.key(&t, "requester").await;
        let other = s.key(&t, "requester").await;
        common::seed_permit_all(&s, &t, 1).await;
        let mut refused = 0;
        for _ in 0..20 {
            let r = authorize(&s, &t, &runaway).await;
            if r.status == 429 {
                assert!(r.body["message"].as_str().unwrap().contains("key's quota"), "{}", r.text);
                refused += 1;
            }
        }
        assert!(refused >= 14, "{refused}");
        for _ in 0..3 {
            let r = authorize(&s, &t, &other).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }

    #[tokio::test]
    async fn a_batch_of_100_counts_100() {
        let s = TestServer::start_with(|c| {
            c.quotas = QuotaDefaults { tenant: limit(1, 150), key: None }
        })
        .await;
        let t = s.tenant().await;
        common::seed_permit_all(&s, &t, 1).await;
        let batch = json!({"requests": vec![authorize_body(); 100]});
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/authorize/batch", Some(batch.clone())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        // 50 tokens left: another 100 are refused, whole, and decide nothing...
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/authorize/batch", Some(batch)).await;
        r.assert_error(429, "rate_limited");
        assert_eq!(authorize_events(&s, &t).await, 100);
        // ...while a single request still fits.
        assert_eq!(authorize(&s, &t, &t.admin_key).await.status, 200);
        // A batch larger than the burst can never pass, and says so.
        let big = json!({"requests": vec![authorize_body(); 100]});
        let s2 = TestServer::start_with(|c| {
            c.quotas = QuotaDefaults { tenant: limit(1, 10), key: None }
        })
        .await;
        let t2 = s2.tenant().await;
        common::seed_permit_all(&s2, &t2, 1).await;
        let r = send(&s2, &t2.admin_key, &t2, Method::POST, "/v1/authorize/batch", Some(big)).await;
        r.assert_error(429, "rate_limited");
        assert!(r.body["message"].as_str().unwrap().contains("burst of 10"), "{}", r.text);
        assert!(!r.headers.contains_key("retry-after"), "waiting would not help");
        // Policy tests are decisions too: 20 cases do not fit a burst of 10.
        let cases: Vec<Value> = (0..20).map(|_| json!({"principal": {"type": "User", "id": "u0"},
            "action": {"type": "Action", "id": "request"}, "resource": {"type": "App", "id": "github"},
            "context": {"scopes": [], "reason": "", "extension_count": 0}, "decision": "allow"})).collect();
        let r = send(&s2, &t2.admin_key, &t2, Method::POST, "/v1/policies/test", Some(json!({"cases": cases}))).await;
        r.assert_error(429, "rate_limited");
    }

    #[tokio::test]
    async fn a_tenants_own_limit_takes_effect_without_a_restart() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        common::seed_permit_all(&s, &t, 1).await;
        let auditor = s.key(&t, "auditor").await;
        for _ in 0..20 {
            assert_eq!(authorize(&s, &t, &t.admin_key).await.status, 200);
        }
        let r = send(&s, &auditor, &t, Method::GET, "/v1/quota", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"tenant": null, "tenant_own": null, "tenant_self": null, "key": null}));
        // Set as the CLI does, from another process: straight into the database.
        let tenant_id: grantd::domain::ids::TenantId = t.id.parse().unwrap();
        grantd::service::quotas::set_own_limit(&s.state.services.store, tenant_id, QuotaSetter::Operator, limit(1, 2), grantd::domain::audit::Actor::cli(), s.state.services.clock.now())
            .await
            .unwrap();
        let started = Instant::now();
        loop {
            let r = authorize(&s, &t, &t.admin_key).await;
            if r.status == 429 {
                break;
            }
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(started.elapsed() < Duration::from_secs(5), "the new limit applies within seconds");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = send(&s, &auditor, &t, Method::GET, "/v1/quota", None).await;
        assert_eq!(r.body["tenant"], json!({"rps": 1, "burst": 2}));
        assert_eq!(r.body["tenant_own"], json!({"rps": 1, "burst": 2}));
        // The change is audited in the tenant's log.
        let events = s.events(&t.id).await;
        assert!(events.iter().any(|(kind, e)| kind == "tenant.quota" && e["request"]["quota"] == json!({"rps": 1, "burst": 2})), "{events:?}");
        // Cleared: unlimited again.
        grantd::service::quotas::set_own_limit(&s.state.services.store, tenant_id, QuotaSetter::Operator, None, grantd::domain::audit::Actor::cli(), s.state.services.clock.now())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for _ in 0..10 {
            assert_eq!(authorize(&s, &t, &t.admin_key).await.status, 200);
        }
    }

    #[tokio::test]
    async fn a_tenants_admin_lowers_its_own_limit_and_cannot_raise_it() {
        let s = TestServer::start_with(|c| {
            c.quotas = QuotaDefaults { tenant: limit(1000, 100), key: None }
        })
        .await;
        let t = s.tenant().await;
        common::seed_permit_all(&s, &t, 1).await;
        let author = s.key(&t, "author").await;
        let put = |key: String, body: Value| {
            let (s, t) = (&s, &t);
            async move { send(s, &key, t, Method::PUT, "/v1/quota", Some(body)).await }
        };
        // Only an admin may set it; every role may read it.
        put(author.clone(), json!({"tenant_self": {"rps": 1, "burst": 1}})).await.assert_error(403, "forbidden");
        // Bad input is refused and changes nothing.
        for bad in [
            json!({"tenant_self": {"rps": 0, "burst": 1}}),
            json!({"tenant_self": {"rps": 1, "burst": 1_000_001}}),
            json!({"tenant_self": {"rps": 1}}),
            json!({"tenant_self": {"rps": 1, "burst": 1}, "tenant": null}),
            json!({"tenant_self": "fast"}),
        ] {
            put(t.admin_key.clone(), bad.clone()).await.assert_error(400, "invalid_input");
        }
        let r = send(&s, &author, &t, Method::GET, "/v1/quota", None).await;
        assert_eq!(r.body["tenant_self"], Value::Null, "{}", r.text);
        // Lower: the burst of 100 becomes 2, at once on this instance (the buckets keep
        // what they held, at most the new burst).
        let r = put(t.admin_key.clone(), json!({"tenant_self": {"rps": 1, "burst": 2}})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"tenant": {"rps": 1, "burst": 2}, "tenant_own": null,
            "tenant_self": {"rps": 1, "burst": 2}, "key": null}));
        // Two decisions, then refused (the other budget, at 1 per second, has two calls left).
        for _ in 0..2 {
            assert_eq!(authorize(&s, &t, &author).await.status, 200);
        }
        authorize(&s, &t, &author).await.assert_error(429, "rate_limited");
        // Raise above the default: the default still holds, number by number.
        let r = put(t.admin_key.clone(), json!({"tenant_self": {"rps": 5000, "burst": 2}})).await;
        assert_eq!(r.body["tenant"], json!({"rps": 1000, "burst": 2}), "{}", r.text);
        let r = put(t.admin_key.clone(), json!({"tenant_self": {"rps": 1_000_000, "burst": 1_000_000}})).await;
        assert_eq!(r.body["tenant"], json!({"rps": 1000, "burst": 100}), "{}", r.text);
        // Above an operator's raise too: the operator's limit is the ceiling.
        let tenant_id: grantd::domain::ids::TenantId = t.id.parse().unwrap();
        grantd::service::quotas::set_own_limit(&s.state.services.store, tenant_id, QuotaSetter::Operator, limit(10, 50), grantd::domain::audit::Actor::cli(), s.state.services.clock.now())
            .await
            .unwrap();
        let r = send(&s, &author, &t, Method::GET, "/v1/quota", None).await;
        assert_eq!(r.body, json!({"tenant": {"rps": 10, "burst": 50}, "tenant_own": {"rps": 10, "burst": 50},
            "tenant_self": {"rps": 1_000_000, "burst": 1_000_000}, "key": null}));
        // Cleared with null: the operator's limit alone.
        let r = put(t.admin_key.clone(), json!({"tenant_self": null})).await;
        assert_eq!(r.body["tenant_self"], Value::Null, "{}", r.text);
        assert_eq!(r.body["tenant"], json!({"rps": 10, "burst": 50}));
        // Each change is audited, with the admin's key as the actor.
        let events = s.events(&t.id).await;
        let changes: Vec<&Value> = events
            .iter()
            .filter(|(kind, e)| kind == "tenant.quota" && e["request"].get("self_quota").is_some())
            .map(|(_, e)| e)
            .collect();
        assert_eq!(changes.len(), 4, "{events:?}");
        assert_eq!(changes[0]["request"]["self_quota"], json!({"rps": 1, "burst": 2}));
        assert_eq!(changes[3]["request"]["self_quota"], Value::Null);
        assert_eq!(changes[0]["actor"]["role"], "admin", "{:?}", changes[0]);
        assert_ne!(changes[0]["actor"]["key_id"], "cli", "{:?}", changes[0]);
    }

    #[tokio::test]
    async fn a_grant_request_over_the_quota_creates_no_grant_and_no_event() {
        // bursts of 3: the seed's two writes spend the other budget, the grant requests
        // the decisions budget
        let s = TestServer::start_with(|c| {
            c.quotas = QuotaDefaults { tenant: limit(1, 3), key: None }
        })
        .await;
        let t = s.tenant().await;
        common::seed_permit_all(&s, &t, 1).await;
        let request = json!({"principal": {"type": "User", "id": "u0"},
            "resource": {"type": "App", "id": "github"}, "reason": "r"});
        let (mut granted, mut refused) = (0, 0);
        for _ in 0..8 {
            let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/grants", Some(request.clone())).await;
            match r.status.as_u16() {
                201 => granted += 1,
                _ => {
                    r.assert_error(429, "rate_limited");
                    refused += 1;
                }
            }
        }
        assert!(granted >= 3 && refused >= 1, "{granted} granted, {refused} refused");
        let db = s.db().await;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM grants").fetch_one(&db).await.unwrap();
        assert_eq!(n, granted, "a refused request writes no grant");
        let events = s.events(&t.id).await;
        assert_eq!(events.iter().filter(|(kind, _)| kind == "grant.request").count() as i64, granted, "{events:?}");
    }
}
