//! Limits of the grant lifecycle that every path must keep: an extension never shortens,
//! a new governing policy brings its lifetime cap, `granted_at` is not in the future, a
//! grant covers exactly its resource, and a bulk revoke says done only when it is.

mod common;

use common::{send, Resp, Tenant, TestServer};
use grantd::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};

struct Ctx {
    s: TestServer,
    t: Tenant,
    req: String,
}

impl Ctx {
    async fn new() -> Ctx {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let r = send(&s, &t.admin_key, &t, Method::PUT, "/v1/entities", Some(json!([
            {"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []},
            {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]},
            {"uid": {"type": "App", "id": "production"}, "attrs": {}, "parents": []},
            {"uid": {"type": "Entitlement", "id": "production-admin"}, "attrs": {}, "parents": [{"type": "App", "id": "production"}]}
        ]))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let req = s.key(&t, "requester").await;
        Ctx { s, t, req }
    }
    async fn call(&self, m: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.s, &self.req, &self.t, m, path, body).await
    }
    async fn admin(&self, m: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.s, &self.t.admin_key, &self.t, m, path, body).await
    }
    /// Whether alice's access check on the `production-admin` entitlement passes.
    async fn covers_admin(&self) -> bool {
        let r = self
            .call(
                Method::POST,
                "/v1/access/check",
                Some(json!({
            "principal": {"type": "User", "id": "alice"},
            "resource": {"type": "Entitlement", "id": "production-admin"}, "scopes": ["read"]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["allowed"] == true
    }
    /// `PUT /v1/grants/{id}` with the requester's key.
    async fn put(&self, id: &str, body: Value) -> Resp {
        self.call(Method::PUT, &format!("/v1/grants/{id}"), Some(body))
            .await
    }
    /// `PUT /v1/grants/{id}` with the admin key.
    async fn admin_put(&self, id: &str, body: Value) -> Resp {
        self.admin(Method::PUT, &format!("/v1/grants/{id}"), Some(body))
            .await
    }
    async fn policy(&self, body: Value) -> Value {
        let r = self.admin(Method::POST, "/v1/policies", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }
    async fn grant(&self, scopes: &[&str], seconds: i64) -> Value {
        let r = self.call(Method::POST, "/v1/grants", Some(json!({
            "principal": {"type": "User", "id": "alice"}, "resource": {"type": "App", "id": "production"},
            "scopes": scopes, "duration_seconds": seconds}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }
}

fn rule(conditions: &str) -> Value {
    json!({"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
        "principal_entity_id": "engineering", "action_scope_type": "in", "action_ids": ["request", "extend"],
        "resource_scope_type": "any", "conditions": conditions})
}

fn ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    grantd::clock::parse_ts(v.as_str().expect("a timestamp")).expect("RFC 3339")
}

/// `read` may be held for 8 h; anything with `write` for 1 h, and a `write` grant may not
/// be asked for more than an hour at a time.
async fn two_policies(c: &Ctx) -> (Value, Value) {
    let read = c
        .policy(
            json!({"key": "read", "name": "read", "priority": 1, "max_duration_seconds": 8 * 3600,
        "rules": [rule("when { [\"read\"].containsAll(context.scopes) }")]}),
        )
        .await;
    let write = c.policy(json!({"key": "write", "name": "write", "priority": 10, "max_duration_seconds": 3600,
        "rules": [rule("when { context.scopes.contains(\"write\") } unless { context has duration_seconds && context.duration_seconds > 3600 }")]})).await;
    (read, write)
}

backends! {
    #[tokio::test]
    async fn an_extension_never_shortens_and_put_expires_at_does() {
        let c = Ctx::new().await;
        two_policies(&c).await;
        let g = c.grant(&["read"], 7200).await;
        let id = g["id"].as_str().unwrap();
        let expires = ts(&g["expires_at"]);
        // The README's old example: a 2 h grant "extended" by 1 h.
        let r = c
            .call(
                Method::POST,
                &format!("/v1/grants/{id}/extend"),
                Some(json!({"duration_seconds": 3600})),
            )
            .await;
        r.assert_error(400, "invalid_input");
        assert!(r.text.contains("never shortens"), "{}", r.text);
        let r = c.call(Method::POST, &format!("/v1/grants/{id}/extend"),
            Some(json!({"expires_at": grantd::clock::format_ts(&(expires - chrono::Duration::seconds(1)))}))).await;
        r.assert_error(400, "invalid_input");
        let r = c.call(Method::GET, &format!("/v1/grants/{id}"), None).await;
        assert_eq!(ts(&r.body["expires_at"]), expires, "unchanged");
        // Shortening is PUT expires_at: earlier than now's expiry, after now; no re-decision.
        let now = c.s.clock.now();
        let earlier = now + chrono::Duration::seconds(1800);
        let r = c
            .put(
                id,
                json!({"expires_at": grantd::clock::format_ts(&earlier)}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ts(&r.body["expires_at"]), earlier);
        assert_eq!(r.body["clamped"], false);
        for (at, what) in [
            (now + chrono::Duration::hours(5), "later"),
            (now, "now"),
            (now - chrono::Duration::seconds(5), "past"),
        ] {
            let r = c
                .put(id, json!({"expires_at": grantd::clock::format_ts(&at)}))
                .await;
            r.assert_error(400, "invalid_input");
            assert!(r.text.contains("expires_at"), "{what}: {}", r.text);
        }
        let events = c.s.events(&c.t.id).await;
        let (kind, e) = events
            .iter()
            .rev()
            .find(|(k, _)| k == "grant.update")
            .expect("audited");
        assert_eq!(kind, "grant.update");
        assert_eq!(
            e["request"]["expires_at"],
            grantd::clock::format_ts(&earlier)
        );
        assert!(
            e.get("decision").is_none_or(Value::is_null),
            "no re-decision: {e}"
        );
    }

    #[tokio::test]
    async fn granted_at_may_not_be_in_the_future() {
        let c = Ctx::new().await;
        two_policies(&c).await;
        let g = c.grant(&["read"], 3600).await;
        let id = g["id"].as_str().unwrap();
        let future = c.s.clock.now() + chrono::Duration::days(3650);
        let r = c
            .admin_put(id, json!({"granted_at": "9999-12-31T00:00:00Z"}))
            .await;
        r.assert_error(400, "invalid_input");
        let r = c
            .admin_put(id, json!({"granted_at": grantd::clock::format_ts(&future)}))
            .await;
        r.assert_error(400, "invalid_input");
        assert!(r.text.contains("granted_at"), "{}", r.text);
        // The attack the limit stops: an extension far into the future stays capped.
        let r = c
            .call(
                Method::POST,
                &format!("/v1/grants/{id}/extend"),
                Some(json!({"duration_seconds": 86_400 * 365})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["clamped"], true);
        assert!(ts(&r.body["expires_at"]) <= ts(&g["granted_at"]) + chrono::Duration::hours(8));
    }

    #[tokio::test]
    async fn a_scope_change_or_policy_move_applies_the_new_policy_cap_and_real_durations() {
        let c = Ctx::new().await;
        let (read, write) = two_policies(&c).await;
        let g = c.grant(&["read"], 4 * 3600).await;
        let id = g["id"].as_str().unwrap();
        assert_eq!(g["policy_id"], read["id"]);
        // 4 h left: the write rule's duration guard sees the real remaining time and denies.
        let r = c.put(id, json!({"scopes": ["read", "write"]})).await;
        r.assert_error(403, "access_denied");
        // Shorten to 30 minutes, then the scope change is permitted and governed by `write`.
        c.s.clock.advance(chrono::Duration::minutes(10));
        let r = c.put(id, json!({"expires_at": grantd::clock::format_ts(&(c.s.clock.now() + chrono::Duration::minutes(30)))})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = c.put(id, json!({"scopes": ["read", "write"]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["policy_id"], write["id"]);
        assert_eq!(r.body["clamped"], false);
        let decided = c.s.events(&c.t.id).await;
        let (_, e) = decided
            .iter()
            .rev()
            .find(|(k, _)| k == "grant.update")
            .unwrap();
        assert_eq!(e["decision"], "allow");
        // A grant that asked for 8 h under `read` moves to `write` (1 h max) by an admin's
        // policy move: its lifetime is cut to granted_at + 1 h, and the answer says so.
        let g2 = c.grant(&["read"], 8 * 3600).await;
        let id2 = g2["id"].as_str().unwrap();
        let r = c
            .admin_put(
                id2,
                json!({"scopes": ["read", "write"], "policy_key": "write"}),
            )
            .await;
        // the guard denies: 8 h left is more than an hour
        r.assert_error(403, "access_denied");
        let loose = c.policy(json!({"key": "loose-write", "name": "loose", "priority": 20, "max_duration_seconds": 3600,
            "rules": [rule("when { context.scopes.contains(\"write\") }")]})).await;
        let r = c.put(id2, json!({"scopes": ["read", "write"]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["policy_id"], loose["id"]);
        assert_eq!(r.body["clamped"], true);
        assert_eq!(
            ts(&r.body["expires_at"]),
            ts(&g2["granted_at"]) + chrono::Duration::hours(1)
        );
        // An admin's move back to `read` keeps the cut lifetime (a move never lengthens).
        let r = c
            .admin_put(id2, json!({"scopes": ["read"], "policy_key": "read"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["policy_id"], read["id"]);
        assert_eq!(
            ts(&r.body["expires_at"]),
            ts(&g2["granted_at"]) + chrono::Duration::hours(1)
        );
    }

    #[tokio::test]
    async fn lowering_a_policy_maximum_cuts_its_active_grants_in_the_same_write() {
        let c = Ctx::new().await;
        let (read, _) = two_policies(&c).await;
        let long = c.grant(&["read"], 6 * 3600).await;
        let short = c.grant(&["read"], 1800).await;
        c.s.clock.advance(chrono::Duration::minutes(90));
        let r = c
            .admin(
                Method::PATCH,
                "/v1/policies/read",
                Some(json!({"max_duration_seconds": 2 * 3600})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // The 6 h grant now ends 2 h after it was granted; the other (already expired) and
        // any grant within the new maximum are untouched.
        let id = long["id"].as_str().unwrap();
        let g = c.call(Method::GET, &format!("/v1/grants/{id}"), None).await;
        assert_eq!(
            ts(&g.body["expires_at"]),
            ts(&long["granted_at"]) + chrono::Duration::hours(2)
        );
        assert_eq!(g.body["version"], 2);
        let sid = short["id"].as_str().unwrap();
        let g = c
            .call(Method::GET, &format!("/v1/grants/{sid}"), None)
            .await;
        assert_eq!(g.body["expires_at"], short["expires_at"]);
        // Audited: one grant.update by the author's key, right after the policy.update.
        let events = c.s.events(&c.t.id).await;
        let at = events
            .iter()
            .rposition(|(k, _)| k == "policy.update")
            .unwrap();
        let (kind, e) = &events[at + 1];
        assert_eq!(kind, "grant.update");
        assert_eq!(e["subject"]["id"], long["id"]);
        assert_eq!(e["request"]["policy_id"], read["id"]);
        assert_eq!(e["request"]["max_duration_seconds"], 2 * 3600);
        assert_eq!(events.len(), at + 2, "only the grant past the new maximum");
    }

    #[tokio::test]
    async fn a_grant_covers_exactly_its_resource_unless_its_policy_covers_descendants() {
        let c = Ctx::new().await;
        two_policies(&c).await;
        c.grant(&["read"], 3600).await;
        let check = |resource: (&str, &str)| json!({"principal": {"type": "User", "id": "alice"}, "resource": {"type": resource.0, "id": resource.1}, "scopes": ["read"]});
        let r = c
            .call(
                Method::POST,
                "/v1/access/check",
                Some(check(("App", "production"))),
            )
            .await;
        assert_eq!(r.body["allowed"], true, "{}", r.text);
        let r = c
            .call(
                Method::POST,
                "/v1/access/check",
                Some(check(("Entitlement", "production-admin"))),
            )
            .await;
        assert_eq!(
            r.body["allowed"], false,
            "a read grant on the app is no grant on its admin entitlement: {}",
            r.text
        );
        // A policy that says so covers its grants' descendants.
        let r = c
            .admin(
                Method::PATCH,
                "/v1/policies/read",
                Some(json!({"covers_descendants": true})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["covers_descendants"], true);
        assert!(c.covers_admin().await, "covered once the policy says so");
        // Disabled, it covers nothing beyond the grant's own resource (fail closed).
        let r = c
            .admin(
                Method::PATCH,
                "/v1/policies/read",
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(!c.covers_admin().await, "a disabled policy covers nothing");
        let r = c
            .admin(
                Method::PATCH,
                "/v1/policies/read",
                Some(json!({"covers_descendants": null})),
            )
            .await;
        r.assert_error(400, "invalid_input");
    }

    /// Offboarding while the grant is being extended: the revoke wins and says so.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bulk_revoke_racing_extensions_says_done_only_when_it_is() {
        let c = std::sync::Arc::new(Ctx::new().await);
        c.policy(
            json!({"key": "long", "name": "long", "max_duration_seconds": 365 * 86_400,
            "rules": [rule("when { true }")]}),
        )
        .await;
        for round in 0..10 {
            let g = c.grant(&["read"], 3600).await;
            let id = g["id"].as_str().unwrap().to_string();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let extender = {
                let (c, id, stop) = (c.clone(), id.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut d = 3600;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        d += 1;
                        let r = c
                            .call(
                                Method::POST,
                                &format!("/v1/grants/{id}/extend"),
                                Some(json!({"duration_seconds": d})),
                            )
                            .await;
                        if r.status == 409 {
                            break; // revoked
                        }
                        assert_eq!(r.status, 200, "{}", r.text);
                    }
                })
            };
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let r = c.admin(Method::POST, "/v1/grants/revoke", Some(json!({"reason": "offboarding",
                "filters": [{"attribute": "user", "operator": "EQUALS", "values": [{"value": "alice"}]}]}))).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            extender.await.unwrap();
            let now = c.call(Method::GET, &format!("/v1/grants/{id}"), None).await;
            // A grant that changed after the batch was read is read again under the write
            // lock, so an extension loop cannot make the revoke give up: it is a 200.
            assert_eq!(r.status, 200, "round {round}: {}", r.text);
            assert_eq!(r.body["revoked"], 1, "round {round}: {}", r.text);
            assert_eq!(
                now.body["status"], "REVOKED",
                "round {round}: 200 but {}",
                now.text
            );
        }
    }

    #[tokio::test]
    async fn the_openapi_document_says_grants_list_takes_an_optional_body() {
        let s = TestServer::start().await;
        let r = s.call(Method::GET, "/openapi.json", None, None, None).await;
        let body = &r.body["paths"]["/v1/grants/list"]["post"]["requestBody"];
        assert!(body.is_object(), "{body}");
        assert_ne!(body["required"], true, "{body}");
        let t = s.tenant().await;
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/grants/list", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

/// One step of a random grant history.
#[derive(Debug, Clone)]
enum Step {
    Request { write: bool, seconds: i64 },
    Extend { grant: usize, seconds: i64 },
    Scopes { grant: usize, write: bool },
    Move { grant: usize, to_b: bool },
    Shorten { grant: usize, seconds: i64 },
    EditMax { b: bool, seconds: i64 },
    Wait { seconds: i64 },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let secs = 60i64..20_000;
    prop_oneof![
        3 => (any::<bool>(), secs.clone()).prop_map(|(write, seconds)| Step::Request { write, seconds }),
        2 => (0usize..4, secs.clone()).prop_map(|(grant, seconds)| Step::Extend { grant, seconds }),
        2 => (0usize..4, any::<bool>()).prop_map(|(grant, write)| Step::Scopes { grant, write }),
        1 => (0usize..4, any::<bool>()).prop_map(|(grant, to_b)| Step::Move { grant, to_b }),
        1 => (0usize..4, 60i64..3600).prop_map(|(grant, seconds)| Step::Shorten { grant, seconds }),
        2 => (any::<bool>(), 600i64..20_000).prop_map(|(b, seconds)| Step::EditMax { b, seconds }),
        1 => (60i64..1200).prop_map(|seconds| Step::Wait { seconds }),
    ]
}

impl Ctx {
    /// Every active grant's `expires_at` is within its governing policy's maximum of its
    /// `granted_at`.
    async fn assert_within_caps(&self, history: &[Step]) {
        let mut max = std::collections::HashMap::new();
        let r = self
            .admin(Method::GET, "/v1/policies?per_page=100", None)
            .await;
        for p in r.body["items"].as_array().unwrap() {
            max.insert(p["id"].clone(), p["max_duration_seconds"].as_i64().unwrap());
        }
        let r = self
            .admin(
                Method::POST,
                "/v1/grants/list?per_page=100",
                Some(json!([
            {"attribute": "status", "operator": "IS_ANY_OF", "values": [{"value": "ACTIVE"}]}])),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for g in r.body["items"].as_array().unwrap() {
            let cap = ts(&g["granted_at"]) + chrono::Duration::seconds(max[&g["policy_id"]]);
            assert!(ts(&g["expires_at"]) <= cap, "after {history:?}: {g}");
        }
    }
}

backends! {
    /// The property: over random sequences of requests, extensions, scope changes,
    /// policy moves, shortenings, policy edits and time passing, no active grant's `expires_at`
    /// is ever past `granted_at` + its current governing policy's maximum.
    #[test]
    fn no_active_grant_outlives_its_governing_policy_cap() {
        use proptest::test_runner::{Config, TestRunner};
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut runner = TestRunner::new(Config {
            cases: 24,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&proptest::collection::vec(step(), 4..20), |steps| {
                rt.block_on(async {
                    let c = Ctx::new().await;
                    c.policy(
                        json!({"key": "a", "name": "a", "priority": 1, "max_duration_seconds": 8 * 3600,
                        "rules": [rule("when { true }")]}),
                    )
                    .await;
                    c.policy(
                        json!({"key": "b", "name": "b", "priority": 5, "max_duration_seconds": 3600,
                        "rules": [rule("when { context.scopes.contains(\"write\") }")]}),
                    )
                    .await;
                    let mut ids: Vec<String> = Vec::new();
                    let id = |ids: &[String], i: usize| ids.get(i % ids.len().max(1)).cloned();
                    for (n, s) in steps.iter().enumerate() {
                        match s {
                            Step::Request { write, seconds } => {
                                let scopes = if *write {
                                    json!(["read", "write"])
                                } else {
                                    json!(["read"])
                                };
                                let r = c
                                    .call(
                                        Method::POST,
                                        "/v1/grants",
                                        Some(json!({
                                    "principal": {"type": "User", "id": "alice"},
                                    "resource": {"type": "App", "id": "production"},
                                    "scopes": scopes, "duration_seconds": seconds})),
                                    )
                                    .await;
                                if r.status == 201 {
                                    ids.push(r.body["id"].as_str().unwrap().to_string());
                                }
                            }
                            Step::Extend { grant, seconds } => {
                                if let Some(g) = id(&ids, *grant) {
                                    c.call(
                                        Method::POST,
                                        &format!("/v1/grants/{g}/extend"),
                                        Some(json!({"duration_seconds": seconds})),
                                    )
                                    .await;
                                }
                            }
                            Step::Scopes { grant, write } => {
                                if let Some(g) = id(&ids, *grant) {
                                    let scopes = if *write {
                                        json!(["read", "write"])
                                    } else {
                                        json!(["read"])
                                    };
                                    c.put(&g, json!({"scopes": scopes})).await;
                                }
                            }
                            Step::Move { grant, to_b } => {
                                if let Some(g) = id(&ids, *grant) {
                                    let key = if *to_b { "b" } else { "a" };
                                    c.admin_put(&g, json!({"policy_key": key})).await;
                                }
                            }
                            Step::Shorten { grant, seconds } => {
                                if let Some(g) = id(&ids, *grant) {
                                    let at = c.s.clock.now() + chrono::Duration::seconds(*seconds);
                                    c.put(&g, json!({"expires_at": grantd::clock::format_ts(&at)}))
                                        .await;
                                }
                            }
                            Step::EditMax { b, seconds } => {
                                let key = if *b { "b" } else { "a" };
                                let r = c
                                    .admin(
                                        Method::PATCH,
                                        &format!("/v1/policies/{key}"),
                                        Some(json!({"max_duration_seconds": seconds})),
                                    )
                                    .await;
                                assert_eq!(r.status, 200, "{}", r.text);
                            }
                            Step::Wait { seconds } => {
                                c.s.clock.advance(chrono::Duration::seconds(*seconds))
                            }
                        }
                        c.assert_within_caps(&steps[..=n]).await;
                    }
                });
                Ok(())
            })
            .unwrap();
    }
}
