//! Decisions over HTTP: fresh after every write, fail closed, ordered, audited, versioned.

mod common;

use common::{Resp, Tenant, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

async fn send(s: &TestServer, t: &Tenant, m: Method, path: &str, body: Option<Value>) -> Resp {
    s.call(m, path, Some(&t.admin_key), Some(&t.id), body).await
}

fn entities() -> Value {
    json!([
        {"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "contractors"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {"department": "eng"}, "parents": [{"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "User", "id": "carol"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}, {"type": "Group", "id": "contractors"}]},
        {"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []},
        {"uid": {"type": "App", "id": "finance"}, "attrs": {}, "parents": []}
    ])
}

async fn setup(s: &TestServer) -> Tenant {
    let t = s.tenant().await;
    let r = send(s, &t, Method::PUT, "/v1/entities", Some(entities())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    t
}

fn rule(
    effect: &str,
    principal_group: Option<&str>,
    resource_app: Option<&str>,
    extra: Value,
) -> Value {
    let mut r = json!({"effect": effect, "action_scope_type": "eq", "action_ids": ["request"],
        "principal_scope_type": "any", "resource_scope_type": "any"});
    if let Some(g) = principal_group {
        r["principal_scope_type"] = json!("in");
        r["principal_entity_type"] = json!("Group");
        r["principal_entity_id"] = json!(g);
    }
    if let Some(a) = resource_app {
        r["resource_scope_type"] = json!("eq");
        r["resource_entity_type"] = json!("App");
        r["resource_entity_id"] = json!(a);
    }
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

async fn policy(s: &TestServer, t: &Tenant, key: &str, priority: i64, rules: Vec<Value>) -> Value {
    let r = send(s, t, Method::POST, "/v1/policies",
        Some(json!({"key": key, "name": key, "priority": priority, "max_duration_seconds": 3600, "rules": rules}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn request(user: &str, app: &str) -> Value {
    json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "request"},
           "resource": {"type": "App", "id": app},
           "context": {"scopes": ["read"], "reason": "", "extension_count": 0}})
}

async fn authorize(s: &TestServer, t: &Tenant, body: Value) -> Resp {
    send(s, t, Method::POST, "/v1/authorize", Some(body)).await
}

/// The tenant's `authorize` audit events, in chain order.
async fn authorize_events(s: &TestServer, t: &Tenant) -> Vec<Value> {
    s.events(&t.id)
        .await
        .into_iter()
        .filter(|(k, _)| k == "authorize")
        .map(|(_, e)| e)
        .collect()
}

backends! {
    #[tokio::test]
    async fn writes_take_effect_on_the_very_next_decision() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        let r = authorize(&s, &t, request("alice", "github")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["decision"], "deny");
        assert_eq!(r.body["deny_reason"], "no_permit");

        let p = policy(
            &s,
            &t,
            "eng",
            1,
            vec![rule("permit", Some("engineering"), None, json!({}))],
        )
        .await;
        let r = authorize(&s, &t, request("alice", "github")).await;
        assert_eq!(r.body["decision"], "allow", "{}", r.text);
        assert_eq!(r.body["deny_reason"], Value::Null);
        assert_eq!(r.body["determining"][0]["policy_id"], p["id"]);
        assert_eq!(r.body["determining"][0]["rule_id"], p["rules"][0]["id"]);
        assert_eq!(r.body["determining"][0]["effect"], "permit");

        send(
            &s,
            &t,
            Method::PATCH,
            "/v1/policies/eng",
            Some(json!({"enabled": false})),
        )
        .await;
        assert_eq!(
            authorize(&s, &t, request("alice", "github")).await.body["decision"],
            "deny"
        );
        send(
            &s,
            &t,
            Method::PATCH,
            "/v1/policies/eng",
            Some(json!({"enabled": true})),
        )
        .await;
        assert_eq!(
            authorize(&s, &t, request("alice", "github")).await.body["decision"],
            "allow"
        );

        // a rule edit: only finance now
        let mut edited = p["rules"][0].clone();
        edited["resource_scope_type"] = json!("eq");
        edited["resource_entity_type"] = json!("App");
        edited["resource_entity_id"] = json!("finance");
        send(
            &s,
            &t,
            Method::PATCH,
            "/v1/policies/eng",
            Some(json!({"rules": [edited]})),
        )
        .await;
        assert_eq!(
            authorize(&s, &t, request("alice", "github")).await.body["decision"],
            "deny"
        );
        assert_eq!(
            authorize(&s, &t, request("alice", "finance")).await.body["decision"],
            "allow"
        );

        // an entity write takes effect at once too
        send(
            &s,
            &t,
            Method::PUT,
            "/v1/entities",
            Some(json!([{"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": []}])),
        )
        .await;
        assert_eq!(
            authorize(&s, &t, request("alice", "finance")).await.body["decision"],
            "deny"
        );
        // and deleting the policy
        send(&s, &t, Method::DELETE, "/v1/policies/eng", None).await;
        send(&s, &t, Method::PUT, "/v1/entities", Some(entities())).await;
        assert_eq!(
            authorize(&s, &t, request("alice", "finance")).await.body["decision"],
            "deny"
        );
    }

    #[tokio::test]
    async fn forbid_wins_whatever_the_priority_and_notices_are_ordered() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        let permit = policy(
            &s,
            &t,
            "permit-all",
            1000,
            vec![rule("permit", None, None, json!({"notice": "permitted"}))],
        )
        .await;
        let low = policy(
            &s,
            &t,
            "no-contractors",
            1,
            vec![
                rule(
                    "forbid",
                    Some("contractors"),
                    None,
                    json!({"notice": "low second", "ordinal": 2}),
                ),
                rule(
                    "forbid",
                    Some("contractors"),
                    None,
                    json!({"notice": "low first", "ordinal": 1}),
                ),
            ],
        )
        .await;
        let high = policy(
            &s,
            &t,
            "no-finance",
            50,
            vec![
                rule("forbid", None, Some("finance"), json!({"notice": "high"})),
                rule("forbid", None, Some("finance"), json!({})),
            ],
        )
        .await;

        let r = authorize(&s, &t, request("carol", "github")).await;
        assert_eq!(r.body["decision"], "deny", "{}", r.text);
        assert_eq!(r.body["deny_reason"], "forbid");
        assert_eq!(r.body["notices"], json!(["low first", "low second"]));
        let r = authorize(&s, &t, request("carol", "finance")).await;
        assert_eq!(
            r.body["notices"],
            json!(["high", "low first", "low second"]),
            "{}",
            r.text
        );
        let det: Vec<&str> = r.body["determining"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["policy_id"].as_str().unwrap())
            .collect();
        let hid = high["id"].as_str().unwrap();
        let lid = low["id"].as_str().unwrap();
        assert_eq!(det, [hid, hid, lid, lid], "priority first, then ordinal");
        assert!(r.body["determining"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["effect"] == "forbid"));
        let r = authorize(&s, &t, request("alice", "github")).await;
        assert_eq!(r.body["decision"], "allow");
        assert_eq!(r.body["notices"], json!(["permitted"]));
        assert_eq!(r.body["determining"][0]["policy_id"], permit["id"]);
    }

    #[tokio::test]
    async fn a_forbid_that_errors_denies_and_an_erroring_permit_does_not_allow() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        // Valid under strict validation, but overflows at run time when extension_count > 1.
        let overflow =
            json!({"conditions": "when { context.extension_count * 9223372036854775807 > 1 }"});
        policy(
            &s,
            &t,
            "boom-permit",
            1,
            vec![rule("permit", None, None, overflow.clone())],
        )
        .await;
        let mut req = request("alice", "github");
        req["context"]["extension_count"] = json!(2);
        let r = authorize(&s, &t, req.clone()).await;
        assert_eq!(r.body["decision"], "deny", "{}", r.text);
        assert_eq!(r.body["deny_reason"], "no_permit");
        assert_eq!(r.body["errors"].as_array().unwrap().len(), 1);

        policy(
            &s,
            &t,
            "permit-all",
            1,
            vec![rule("permit", None, None, json!({}))],
        )
        .await;
        assert_eq!(
            authorize(&s, &t, req.clone()).await.body["decision"],
            "allow"
        );
        let boom = policy(
            &s,
            &t,
            "boom-forbid",
            1,
            vec![rule("forbid", None, None, overflow.clone())],
        )
        .await;
        let r = authorize(&s, &t, req.clone()).await;
        assert_eq!(r.body["decision"], "deny", "fail closed: {}", r.text);
        assert_eq!(r.body["deny_reason"], "error");
        assert_eq!(r.body["determining"][0]["rule_id"], boom["rules"][0]["id"]);
        assert_eq!(r.body["errors"].as_array().unwrap().len(), 2);
        // without the overflow, the forbid does not apply and the permit wins
        let r = authorize(&s, &t, request("alice", "github")).await;
        assert_eq!(r.body["decision"], "allow", "{}", r.text);
    }

    #[tokio::test]
    async fn requests_are_validated_against_the_schema() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        let cases = vec![
            json!({"context": {"scopes": ["read"], "reason": "", "extension_count": "0"}}),
            json!({"context": {"scopes": ["read"], "reason": "", "extension_count": 0, "extra": 1}}),
            json!({"context": {"scopes": ["read"]}}),
            json!({"context": []}),
            json!({"action": {"type": "Action", "id": "fly"}}),
            json!({"resource": {"type": "User", "id": "alice"}}),
            json!({"principal": {"type": "Not A Type", "id": "x"}}),
        ];
        for change in cases {
            let mut body = request("alice", "github");
            for (k, v) in change.as_object().unwrap() {
                body[k] = v.clone();
            }
            authorize(&s, &t, body.clone())
                .await
                .assert_error(400, "invalid_input");
        }
        let mut unknown = request("alice", "github");
        unknown["colour"] = json!("red");
        authorize(&s, &t, unknown)
            .await
            .assert_error(400, "invalid_input");
        // nothing above was audited
        assert!(s.events(&t.id).await.iter().all(|(k, _)| k != "authorize"));
    }

    #[tokio::test]
    async fn request_scoped_entities_add_but_never_override_or_persist() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        policy(
            &s,
            &t,
            "eng",
            1,
            vec![rule("permit", Some("engineering"), None, json!({}))],
        )
        .await;
        let mut req = request("dave", "github");
        // dave is not stored: denied, then allowed for this call with request-scoped entities
        assert_eq!(
            authorize(&s, &t, req.clone()).await.body["decision"],
            "deny"
        );
        req["entities"] = json!([{"uid": {"type": "User", "id": "dave"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]}]);
        assert_eq!(
            authorize(&s, &t, req.clone()).await.body["decision"],
            "allow"
        );
        // not persisted
        let r = send(&s, &t, Method::GET, "/v1/entities?type=User", None).await;
        assert!(!r.text.contains("dave"));
        req.as_object_mut().unwrap().remove("entities");
        assert_eq!(authorize(&s, &t, req).await.body["decision"], "deny");
        // a stored entity cannot be rewritten: carol stays a contractor-engineer; alice cannot be
        // taken out of engineering
        let mut over = request("alice", "github");
        over["entities"] =
            json!([{"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": []}]);
        authorize(&s, &t, over)
            .await
            .assert_error(400, "invalid_input");
        // an entity that stored entities name as a parent (but the store lacks) cannot be added
        // either: it would put stored users into new groups for this call
        send(&s, &t, Method::PUT, "/v1/entities", Some(json!([
            {"uid": {"type": "User", "id": "erin"}, "attrs": {}, "parents": [{"type": "Group", "id": "interns"}]}
        ]))).await;
        let mut regroup = request("erin", "github");
        assert_eq!(
            authorize(&s, &t, regroup.clone()).await.body["decision"],
            "deny"
        );
        regroup["entities"] = json!([{"uid": {"type": "Group", "id": "interns"}, "attrs": {},
            "parents": [{"type": "Group", "id": "engineering"}]}]);
        authorize(&s, &t, regroup)
            .await
            .assert_error(400, "invalid_input");
        let mut bad = request("dave", "github");
        bad["entities"] = json!([{"uid": {"type": "User", "id": "dave"}, "attrs": {"department": 5}, "parents": []}]);
        authorize(&s, &t, bad)
            .await
            .assert_error(400, "invalid_input");
        let mut action = request("dave", "github");
        action["entities"] =
            json!([{"uid": {"type": "Action", "id": "request"}, "attrs": {}, "parents": []}]);
        authorize(&s, &t, action)
            .await
            .assert_error(400, "invalid_input");
    }

    #[tokio::test]
    async fn batch_answers_in_order_and_audits_each() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        policy(
            &s,
            &t,
            "eng",
            1,
            vec![rule("permit", Some("engineering"), None, json!({}))],
        )
        .await;
        policy(
            &s,
            &t,
            "fin",
            1,
            vec![rule(
                "forbid",
                Some("contractors"),
                Some("finance"),
                json!({"notice": "no"}),
            )],
        )
        .await;
        let before = s.events(&t.id).await.len();
        let reqs = vec![
            request("alice", "github"),
            request("carol", "finance"),
            request("nobody", "github"),
            request("carol", "github"),
        ];
        let r = send(
            &s,
            &t,
            Method::POST,
            "/v1/authorize/batch",
            Some(json!({"requests": reqs})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let decisions: Vec<&str> = r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["decision"].as_str().unwrap())
            .collect();
        assert_eq!(decisions, ["allow", "deny", "deny", "allow"]);
        assert_eq!(r.body["results"][1]["notices"], json!(["no"]));
        assert_eq!(r.body["results"][2]["deny_reason"], "no_permit");
        let events = s.events(&t.id).await;
        assert_eq!(events.len() - before, 4);
        // over the limit, or one invalid request: 400 and nothing decided
        let many: Vec<Value> = (0..101).map(|_| request("alice", "github")).collect();
        send(
            &s,
            &t,
            Method::POST,
            "/v1/authorize/batch",
            Some(json!({"requests": many})),
        )
        .await
        .assert_error(400, "invalid_input");
        let mut bad = request("alice", "github");
        bad["context"] = json!({});
        let r = send(
            &s,
            &t,
            Method::POST,
            "/v1/authorize/batch",
            Some(json!({"requests": [request("alice", "github"), bad]})),
        )
        .await;
        r.assert_error(400, "invalid_input");
        assert!(
            r.body["message"].as_str().unwrap().contains("requests[1]"),
            "{}",
            r.text
        );
        assert_eq!(s.events(&t.id).await.len(), events.len());
    }

    #[tokio::test]
    async fn every_decision_is_audited_once_with_a_version_that_resolves_to_its_rules() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        let requester = s.key(&t, "requester").await;
        let p1 = policy(
            &s,
            &t,
            "eng",
            1,
            vec![rule(
                "permit",
                Some("engineering"),
                None,
                json!({"notice": "hi"}),
            )],
        )
        .await;
        let call = |body: Value| {
            s.client
                .post(format!("{}/v1/authorize", s.base))
                .header("X-API-Key", &requester)
                .header("X-Tenant-ID", &t.id)
                .header("X-On-Behalf-Of", "portal:alice")
                .json(&body)
                .send()
        };
        let first = TestServer::read(call(request("alice", "github")).await.unwrap()).await;
        let v1 = first.body["policy_set_version"].as_i64().unwrap();
        send(
            &s,
            &t,
            Method::PATCH,
            "/v1/policies/eng",
            Some(json!({"enabled": false})),
        )
        .await;
        let second = TestServer::read(call(request("alice", "github")).await.unwrap()).await;
        let v2 = second.body["policy_set_version"].as_i64().unwrap();
        assert!(v2 > v1);

        let events = authorize_events(&s, &t).await;
        assert_eq!(events.len(), 2);
        for (ev, resp) in events.iter().zip([&first, &second]) {
            assert_eq!(ev["decision"], resp.body["decision"]);
            assert_eq!(ev["policy_set_version"], resp.body["policy_set_version"]);
            assert_eq!(ev["determining"], resp.body["determining"]);
            assert_eq!(ev["notices"], resp.body["notices"]);
            assert_eq!(
                ev["subject"],
                json!({"type": "principal", "id": "User::\"alice\""})
            );
            assert_eq!(ev["actor"]["role"], "requester");
            assert_eq!(ev["actor"]["on_behalf_of"], "portal:alice");
            assert_eq!(
                ev["request"]["resource"],
                json!({"type": "App", "id": "github"})
            );
        }
        assert_eq!(events[1]["deny_reason"], "no_permit");
        // the versions resolve to the text that decided, also after later edits
        send(
            &s,
            &t,
            Method::PATCH,
            "/v1/policies/eng",
            Some(json!({"enabled": true, "name": "later"})),
        )
        .await;
        let t1 = send(
            &s,
            &t,
            Method::GET,
            &format!("/v1/policy-set-versions/{v1}"),
            None,
        )
        .await;
        assert_eq!(t1.status, 200, "{}", t1.text);
        assert_eq!(t1.body["cedar_policy_set"], p1["cedar_policy_set"]);
        assert_eq!(t1.body["version"], v1);
        let t2 = send(
            &s,
            &t,
            Method::GET,
            &format!("/v1/policy-set-versions/{v2}"),
            None,
        )
        .await;
        assert_eq!(t2.body["cedar_policy_set"], "");
        send(&s, &t, Method::GET, "/v1/policy-set-versions/999999", None)
            .await
            .assert_error(404, "not_found");
        send(&s, &t, Method::GET, "/v1/policy-set-versions/abc", None)
            .await
            .assert_error(404, "not_found");
        // another tenant's versions are not found
        let other = s.tenant().await;
        send(
            &s,
            &other,
            Method::GET,
            &format!("/v1/policy-set-versions/{v1}"),
            None,
        )
        .await
        .assert_error(404, "not_found");
        let verify = send(&s, &t, Method::GET, "/v1/audit-events/verify", None).await;
        assert_eq!(verify.body["ok"], true);
    }
}

/// An independent evaluation: the stored text of a version, parsed and evaluated by Cedar
/// directly, with the same entities.
fn independent(text: &str, user: &str, app: &str) -> &'static str {
    use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
    use std::str::FromStr;
    let set = PolicySet::from_str(text).unwrap();
    let ents = Entities::from_json_value(entities(), None).unwrap();
    let req = Request::new(
        EntityUid::from_str(&format!("User::\"{user}\"")).unwrap(),
        EntityUid::from_str("Action::\"request\"").unwrap(),
        EntityUid::from_str(&format!("App::\"{app}\"")).unwrap(),
        Context::from_json_value(
            json!({"scopes": ["read"], "reason": "", "extension_count": 0}),
            None,
        )
        .unwrap(),
        None,
    )
    .unwrap();
    match Authorizer::new()
        .is_authorized(&req, &set, &ents)
        .decision()
    {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
    }
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn decisions_during_rewrites_match_the_old_or_the_new_set() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        policy(
            &s,
            &t,
            "flip",
            1,
            vec![rule(
                "permit",
                Some("engineering"),
                Some("github"),
                json!({}),
            )],
        )
        .await;
        let rules_a = json!([rule(
            "permit",
            Some("engineering"),
            Some("github"),
            json!({})
        )]);
        let rules_b = json!([
            rule("permit", Some("engineering"), Some("finance"), json!({})),
            rule("forbid", Some("contractors"), None, json!({}))
        ]);
        // The readers run from before the first rewrite until after the last, so decisions are
        // made under several versions whatever the scheduling.
        let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (base, key, tenant) = (s.base.clone(), t.admin_key.clone(), t.id.clone());
            let (reads, done) = (reads.clone(), done.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                while reads.load(std::sync::atomic::Ordering::SeqCst) < 8 {
                    tokio::task::yield_now().await;
                }
                for i in 0..30 {
                    let rules = if i % 2 == 0 {
                        rules_b.clone()
                    } else {
                        rules_a.clone()
                    };
                    let r = client
                        .patch(format!("{base}/v1/policies/flip"))
                        .header("X-API-Key", &key)
                        .header("X-Tenant-ID", &tenant)
                        .json(&json!({"rules": rules}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                }
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let mut answers = Vec::new();
        let mut readers = Vec::new();
        for w in 0..4 {
            let (base, key, tenant) = (s.base.clone(), t.admin_key.clone(), t.id.clone());
            let (reads, done) = (reads.clone(), done.clone());
            readers.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut out = Vec::new();
                let mut i = 0;
                // Until the writer is done (then a few more), and at least 40 each.
                let mut after_done = 0;
                while (i < 40 || after_done < 3) && i < 5000 {
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        after_done += 1;
                    }
                    reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let (user, app) = [
                        ("alice", "github"),
                        ("alice", "finance"),
                        ("carol", "github"),
                        ("carol", "finance"),
                    ][(i + w) % 4];
                    let r = client
                        .post(format!("{base}/v1/authorize"))
                        .header("X-API-Key", &key)
                        .header("X-Tenant-ID", &tenant)
                        .json(&request(user, app))
                        .send()
                        .await
                        .unwrap();
                    let body: Value = r.json().await.unwrap();
                    out.push((user, app, body));
                    i += 1;
                }
                out
            }));
        }
        for r in readers {
            answers.extend(r.await.unwrap());
        }
        writer.await.unwrap();
        let mut texts = std::collections::HashMap::new();
        let mut versions = std::collections::HashSet::new();
        for (user, app, body) in &answers {
            let v = body["policy_set_version"].as_i64().expect("a decision");
            versions.insert(v);
            if let std::collections::hash_map::Entry::Vacant(slot) = texts.entry(v) {
                let path = format!("/v1/policy-set-versions/{v}");
                let r = send(&s, &t, Method::GET, &path, None).await;
                slot.insert(r.body["cedar_policy_set"].as_str().unwrap().to_string());
            }
            let text = &texts[&v];
            assert!(
                text.contains("App::\"github\"") || text.contains("App::\"finance\""),
                "version {v} is one of the two sets: {text}"
            );
            assert_eq!(
                body["decision"],
                independent(text, user, app),
                "{user} {app} at version {v}"
            );
        }
        assert!(
            versions.len() > 1,
            "the rewrites interleaved with the decisions"
        );
    }

    #[tokio::test]
    async fn request_types_are_checked_the_same_whether_the_schema_names_them_or_not() {
        let s = TestServer::start().await;
        let t = setup(&s).await;
        policy(
            &s,
            &t,
            "eng",
            0,
            vec![rule(
                "permit",
                Some("engineering"),
                Some("github"),
                json!({}),
            )],
        )
        .await;
        // types the schema names: decided
        let ok = authorize(&s, &t, request("alice", "github")).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert_eq!(ok.body["decision"], "allow");
        // not a type name at all: the parser's reason, with the field
        let mut bad = request("alice", "github");
        bad["principal"]["type"] = json!("Us er");
        let r = authorize(&s, &t, bad).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .starts_with("principal.type: \"Us er\" is not a Cedar type name"),
            "{}",
            r.text
        );
        // a well-formed type the schema lacks, and a namespaced spelling of a known one: refused
        for ty in ["Robot", "Ns::User"] {
            let mut other = request("alice", "github");
            other["principal"]["type"] = json!(ty);
            let r = authorize(&s, &t, other).await;
            assert_eq!(r.status, 400, "{ty}: {}", r.text);
            assert!(
                r.body["message"].as_str().unwrap().starts_with("request: "),
                "{ty}: {}",
                r.text
            );
        }
        // in a batch the field names the request
        let mut bad = request("alice", "github");
        bad["resource"]["type"] = json!("1App");
        let r = send(
            &s,
            &t,
            Method::POST,
            "/v1/authorize/batch",
            Some(json!({"requests": [request("alice", "github"), bad]})),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .starts_with("requests[1].resource.type: "),
            "{}",
            r.text
        );
        // a context that is not an object, and an absent one (the empty context, which the
        // schema's context type refuses for `request`)
        let mut ctx = request("alice", "github");
        ctx["context"] = json!([1]);
        let r = authorize(&s, &t, ctx).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "context: must be a JSON object");
        let mut none = request("alice", "github");
        none.as_object_mut().unwrap().remove("context");
        let r = authorize(&s, &t, none).await;
        assert_eq!(r.status, 400, "{}", r.text);
        // the one decision's event records the request as it came
        let events = authorize_events(&s, &t).await;
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0]["request"],
            json!({
                "principal": {"type": "User", "id": "alice"},
                "action": {"type": "Action", "id": "request"},
                "resource": {"type": "App", "id": "github"},
                "context": {"scopes": ["read"], "reason": "", "extension_count": 0},
                "entities": 0
            })
        );
    }
}
