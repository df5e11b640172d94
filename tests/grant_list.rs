//! `POST /v1/grants/list` and `POST /v1/grants/revoke` over HTTP, against a known population
//! of grants. Every expected set is computed here, in plain Rust over the grants as
//! `GET /v1/grants/{id}` returns them, independently of the server's SQL.

mod common;

use chrono::{DateTime, Duration, Timelike, Utc};
use common::{send, send_on_behalf, Resp, Tenant, TestServer};
use grantd::clock::{format_ts, parse_ts, Clock};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
/// (entitlement, its app or None)
const ENTITLEMENTS: [(&str, Option<&str>); 6] = [
    ("crm-read", Some("crm")),
    ("crm-admin", Some("crm")),
    ("erp-read", Some("erp")),
    ("erp-50%_pay", Some("erp")),
    ("wiki-edit", Some("wiki")),
    ("orphan", None),
];

fn entities() -> Value {
    let mut v =
        vec![json!({"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []})];
    for u in USERS {
        v.push(json!({"uid": {"type": "User", "id": u}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]}));
    }
    for a in ["crm", "erp", "wiki"] {
        v.push(json!({"uid": {"type": "App", "id": a}, "attrs": {}, "parents": []}));
    }
    for (e, app) in ENTITLEMENTS {
        let parents: Vec<Value> = app
            .map(|a| vec![json!({"type": "App", "id": a})])
            .unwrap_or_default();
        v.push(json!({"uid": {"type": "Entitlement", "id": e}, "attrs": {}, "parents": parents}));
    }
    Value::Array(v)
}

struct World {
    s: TestServer,
    t: Tenant,
    req: String,
    auditor: String,
    main_policy: Value,
    vip_policy: Value,
    /// The whole population as `GET /v1/grants/{id}` shows it, in creation order.
    grants: Vec<Value>,
}

async fn start() -> (TestServer, Tenant, String, Value, Value) {
    // the sweeper is run by hand so the population only changes when the test says so
    let s =
        TestServer::start_with(|c| c.sweep_interval = std::time::Duration::from_secs(3600)).await;
    let t = s.tenant().await;
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::PUT,
        "/v1/entities",
        Some(entities()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rule = |principal: Value| {
        let mut r = json!({"effect": "permit", "action_scope_type": "in", "action_ids": ["request", "extend"],
            "resource_scope_type": "any"});
        for (k, v) in principal.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let main = send(&s, &t.admin_key, &t, Method::POST, "/v1/policies", Some(json!({
        "key": "main", "name": "main", "priority": 10, "max_duration_seconds": 30 * 86400,
        "default_duration_seconds": 86400,
        "rules": [rule(json!({"principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering"}))]
    }))).await;
    assert_eq!(main.status, 201, "{}", main.text);
    let vip = send(&s, &t.admin_key, &t, Method::POST, "/v1/policies", Some(json!({
        "key": "vip", "name": "vip", "priority": 100, "max_duration_seconds": 30 * 86400,
        "rules": [rule(json!({"principal_scope_type": "eq", "principal_entity_type": "User", "principal_entity_id": "alice"}))]
    }))).await;
    assert_eq!(vip.status, 201, "{}", vip.text);
    let req = s.key(&t, "requester").await;
    (s, t, req, main.body, vip.body)
}

/// 60 grants over 5 users and 3 apps (plus an app-less entitlement and grants on apps
/// themselves), in pairs created at the same instant (so ids break ties); then some are
/// revoked, some changed by an admin, some used, some expire (half of those persisted by
/// the sweeper, half only effectively).
async fn world() -> World {
    let (s, t, req, main_policy, vip_policy) = start().await;
    let t0 = s.clock.now();
    let mut ids = Vec::new();
    for i in 0..60usize {
        if i % 2 == 0 {
            s.clock.advance(Duration::seconds(10));
        }
        let user = USERS[i % 5];
        let (rtype, rid) = if i % 7 == 3 {
            ("App", ["crm", "erp", "wiki"][i % 3])
        } else {
            ("Entitlement", ENTITLEMENTS[i % 6].0)
        };
        let scopes = match i % 4 {
            0 => json!([]),
            1 => json!(["read"]),
            2 => json!(["read", "write"]),
            _ => json!(["admin"]),
        };
        let duration = if i % 6 == 5 {
            60
        } else {
            86400 * (1 + (i as i64 % 9))
        };
        let reason = match i % 5 {
            0 => "50%_discount review".to_string(),
            1 => "50x budget".to_string(),
            _ => format!("ticket-{i}"),
        };
        let body = json!({"principal": {"type": "User", "id": user}, "resource": {"type": rtype, "id": rid},
            "scopes": scopes, "duration_seconds": duration, "reason": reason});
        let r = if i % 3 == 0 {
            send_on_behalf(
                &s,
                &req,
                &t,
                Method::POST,
                "/v1/grants",
                Some(body),
                &format!("portal:{user}@example.com"),
            )
            .await
        } else {
            send(&s, &req, &t, Method::POST, "/v1/grants", Some(body)).await
        };
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    s.clock.advance(Duration::seconds(30));
    // revoke every 8th grant (none of them short-lived)
    for (i, id) in ids.iter().enumerate() {
        if i % 8 == 2 {
            let r = send(
                &s,
                &req,
                &t,
                Method::POST,
                &format!("/v1/grants/{id}/revoke"),
                Some(json!({"reason": "done"})),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            s.clock.advance(Duration::seconds(1));
        }
    }
    // an admin records who granted a few
    for (i, id) in ids.iter().enumerate() {
        if i % 9 == 4 && i % 8 != 2 {
            let r = send(
                &s,
                &t.admin_key,
                &t,
                Method::PUT,
                &format!("/v1/grants/{id}"),
                Some(json!({"granted_by": format!("manager-{}", i % 2)})),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
    // a few are extended (none of them short-lived or revoked)
    for i in [7, 27, 37, 57] {
        let r = send(
            &s,
            &req,
            &t,
            Method::POST,
            &format!("/v1/grants/{}/extend", ids[i]),
            Some(json!({"duration_seconds": 10 * 86400})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "EXTENDED");
    }
    // some grants are used (last_used_at), at different times
    for (i, u) in USERS.iter().enumerate().take(3) {
        s.clock.advance(Duration::seconds(5));
        let r = send(&s, &req, &t, Method::POST, "/v1/access/check", Some(json!({
            "principal": {"type": "User", "id": u}, "resource": {"type": "Entitlement", "id": ENTITLEMENTS[i].0}}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["allowed"] == true {
            let id = r.body["grant_id"].as_str().unwrap().to_string();
            for _ in 0..200 {
                let g = send(&s, &req, &t, Method::GET, &format!("/v1/grants/{id}"), None).await;
                if !g.body["last_used_at"].is_null() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
    // one used grant's granted_at is moved past its last use (an update may do that)
    s.clock.advance(Duration::seconds(5));
    let moved = {
        let mut found = None;
        for id in &ids {
            let g = send(&s, &req, &t, Method::GET, &format!("/v1/grants/{id}"), None).await;
            if !g.body["last_used_at"].is_null() {
                found = Some(id.clone());
                break;
            }
        }
        found.expect("a used grant")
    };
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::PUT,
        &format!("/v1/grants/{moved}"),
        Some(json!({"granted_at": format_ts(&s.clock.now())})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // the 60-second grants expire: those due by t0 + 200 s are persisted by the sweeper,
    // the later ones are expired only effectively
    let store = &s.state.services.store;
    let n = grantd::service::grants::sweep(store, t0 + Duration::seconds(200))
        .await
        .unwrap();
    assert!((2..8).contains(&n), "{n}");
    s.clock.advance(Duration::seconds(60 * 60));
    let mut grants = Vec::new();
    for id in &ids {
        let g = send(&s, &req, &t, Method::GET, &format!("/v1/grants/{id}"), None).await;
        assert_eq!(g.status, 200);
        grants.push(g.body);
    }
    let auditor = s.key(&t, "auditor").await;
    let w = World {
        s,
        t,
        req,
        auditor,
        main_policy,
        vip_policy,
        grants,
    };
    let count = |st: &str| w.grants.iter().filter(|g| g["status"] == st).count();
    assert!(count("GRANTED") > 20 && count("REVOKED") >= 5 && count("EXPIRED") >= 8);
    assert_eq!(count("EXTENDED"), 4);
    assert!(
        w.grants
            .iter()
            .filter(|g| !g["last_used_at"].is_null())
            .count()
            >= 2
    );
    assert!(w.grants.iter().any(|g| g["app"].is_null()));
    assert!(
        w.grants
            .iter()
            .any(|g| time(g, "last_used_at").is_some_and(|u| u < time(g, "granted_at").unwrap())),
        "a grant granted after its last use"
    );
    w
}

fn text(g: &Value, k: &str) -> Option<String> {
    g[k].as_str().map(str::to_string)
}

fn time(g: &Value, k: &str) -> Option<DateTime<Utc>> {
    g[k].as_str().map(|s| parse_ts(s).unwrap())
}

fn scopes(g: &Value) -> BTreeSet<String> {
    g["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn id(g: &Value) -> String {
    text(g, "id").unwrap()
}

impl World {
    async fn list_page(&self, key: &str, filters: &Value, query: &str) -> Resp {
        send(
            &self.s,
            key,
            &self.t,
            Method::POST,
            &format!("/v1/grants/list?{query}"),
            Some(filters.clone()),
        )
        .await
    }

    /// Every grant the list returns for `filters` and `query`, walking the cursor with
    /// small pages; checks the page fields on the way.
    async fn list_all(&self, filters: Value, query: &str) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        let mut token: Option<String> = None;
        let mut page = 1;
        let mut total = None;
        loop {
            let q = match &token {
                Some(t) => format!("per_page=7&{query}&next_page_token={t}"),
                None => format!("per_page=7&{query}"),
            };
            let r = self.list_page(&self.req, &filters, &q).await;
            assert_eq!(r.status, 200, "{filters} {query}: {}", r.text);
            assert_eq!(r.body["page"], page);
            assert_eq!(r.body["per_page"], 7);
            let t = r.body["total"].as_i64().unwrap();
            assert_eq!(*total.get_or_insert(t), t, "total is stable");
            let items = r.body["items"].as_array().unwrap();
            assert!(items.len() <= 7);
            out.extend(items.iter().cloned());
            match r.body["next_page_token"].as_str() {
                Some(t) => {
                    assert_eq!(items.len(), 7, "a page with a successor is full");
                    token = Some(t.to_string());
                    page += 1;
                }
                None => break,
            }
        }
        assert_eq!(out.len() as i64, total.unwrap_or(0), "{filters}");
        out
    }

    /// The ids the list returns, checked to be returned once each.
    async fn ids(&self, filters: Value) -> BTreeSet<String> {
        let all = self.list_all(filters.clone(), "").await;
        let set: BTreeSet<String> = all.iter().map(id).collect();
        assert_eq!(set.len(), all.len(), "each grant once: {filters}");
        set
    }

    fn expect(&self, pred: impl Fn(&Value) -> bool) -> BTreeSet<String> {
        self.grants.iter().filter(|g| pred(g)).map(id).collect()
    }

    fn now(&self) -> DateTime<Utc> {
        self.s.clock.now()
    }
}

fn f(attribute: &str, operator: &str, values: Vec<Value>) -> Value {
    json!({"attribute": attribute, "operator": operator,
        "values": values.into_iter().map(|v| json!({"value": v})).collect::<Vec<_>>()})
}

backends! {
    #[tokio::test]
    async fn every_attribute_matches_its_independently_computed_set() {
        let w = world().await;
        let now = w.now();
        let active = |g: &Value| g["status"] == "GRANTED" || g["status"] == "EXTENDED";
        let lc = |s: &str| s.to_ascii_lowercase();
        // (filters, expected) pairs; every expected set is non-trivial unless said otherwise
        let t10 = time(&w.grants[10], "granted_at").unwrap();
        let t30 = time(&w.grants[30], "granted_at").unwrap();
        let used: Vec<DateTime<Utc>> = {
            let mut v: Vec<_> = w
                .grants
                .iter()
                .filter_map(|g| time(g, "last_used_at"))
                .collect();
            v.sort();
            v
        };
        let main_id = w.main_policy["id"].as_str().unwrap().to_string();
        let vip_id = w.vip_policy["id"].as_str().unwrap().to_string();
        let cases: Vec<(Vec<Value>, BTreeSet<String>)> = vec![
            // status: buckets and raw, always effective
            (
                vec![f("status", "IS_ANY_OF", vec![json!("ACTIVE")])],
                w.expect(active),
            ),
            (
                vec![f("status", "IS_ANY_OF", vec![json!("INACTIVE")])],
                w.expect(|g| !active(g)),
            ),
            (
                vec![f("status", "EQUALS", vec![json!("REVOKED")])],
                w.expect(|g| g["status"] == "REVOKED"),
            ),
            (
                vec![f("status", "IN", vec![json!("EXPIRED")])],
                w.expect(|g| g["status"] == "EXPIRED"),
            ),
            (
                vec![f("status", "NOT_EQUALS", vec![json!("ACTIVE")])],
                w.expect(|g| !active(g)),
            ),
            (
                vec![f(
                    "status",
                    "IS_NOT_ANY_OF",
                    vec![json!("REVOKED"), json!("GRANTED")],
                )],
                w.expect(|g| g["status"] != "REVOKED" && g["status"] != "GRANTED"),
            ),
            // user / principal
            (
                vec![f("user", "IS_ANY_OF", vec![json!("bob"), json!("dave")])],
                w.expect(|g| g["principal"]["id"] == "bob" || g["principal"]["id"] == "dave"),
            ),
            (
                vec![f("user", "EQUALS", vec![json!("alice")])],
                w.expect(|g| g["principal"]["id"] == "alice"),
            ),
            (
                vec![f("user", "NOT_IN", vec![json!("alice"), json!("erin")])],
                w.expect(|g| g["principal"]["id"] != "alice" && g["principal"]["id"] != "erin"),
            ),
            (
                vec![f("user", "TEXT_CONTAINS", vec![json!("AR")])],
                w.expect(|g| lc(g["principal"]["id"].as_str().unwrap()).contains("ar")),
            ),
            (
                vec![f("user", "ENDS_WITH", vec![json!("e")])],
                w.expect(|g| g["principal"]["id"].as_str().unwrap().ends_with('e')),
            ),
            (
                vec![f("user", "STARTS_WITH", vec![json!("da")])],
                w.expect(|g| g["principal"]["id"] == "dave"),
            ),
            (
                vec![f("principal", "EQUALS", vec![json!("User::\"carol\"")])],
                w.expect(|g| g["principal"]["id"] == "carol"),
            ),
            (
                vec![f(
                    "principal",
                    "IS_NOT_ANY_OF",
                    vec![json!("User::\"carol\""), json!("Group::\"bob\"")],
                )],
                w.expect(|g| g["principal"]["id"] != "carol"),
            ),
            // app, entitlement, resource
            (
                vec![f("app", "IS_ANY_OF", vec![json!("crm")])],
                w.expect(|g| g["app"] == "crm"),
            ),
            (
                vec![f("app", "NOT_EQUALS", vec![json!("crm")])],
                w.expect(|g| g["app"] != "crm"),
            ),
            (
                vec![f("app", "IS_NULL", vec![])],
                w.expect(|g| g["app"].is_null()),
            ),
            (
                vec![f("app", "IS_NOT_NULL", vec![])],
                w.expect(|g| !g["app"].is_null()),
            ),
            (
                vec![f("app", "TEXT_DOES_NOT_CONTAINS", vec![json!("R")])],
                w.expect(|g| !lc(g["app"].as_str().unwrap_or("")).contains('r')),
            ),
            (
                vec![f(
                    "entitlement",
                    "IS_ANY_OF",
                    vec![json!("crm-read"), json!("wiki-edit")],
                )],
                w.expect(|g| {
                    g["resource"]["id"] == "crm-read" || g["resource"]["id"] == "wiki-edit"
                }),
            ),
            (
                vec![f("entitlement_value", "EQUALS", vec![json!("erp-50%_pay")])],
                w.expect(|g| g["resource"]["id"] == "erp-50%_pay"),
            ),
            // LIKE wildcards in a value are literal characters
            (
                vec![f("entitlement", "CONTAINS", vec![json!("50%_")])],
                w.expect(|g| g["resource"]["id"] == "erp-50%_pay"),
            ),
            (
                vec![f("entitlement", "STARTS_WITH", vec![json!("crm_")])],
                BTreeSet::new(),
            ),
            (
                vec![f("entitlement", "NOT_CONTAINS", vec![json!("read")])],
                w.expect(|g| !g["resource"]["id"].as_str().unwrap().contains("read")),
            ),
            (
                vec![f("resource", "EQUALS", vec![json!("App::\"erp\"")])],
                w.expect(|g| g["resource"] == json!({"type": "App", "id": "erp"})),
            ),
            (
                vec![f(
                    "resource",
                    "IN",
                    vec![json!("Entitlement::\"orphan\""), json!("App::\"wiki\"")],
                )],
                w.expect(|g| {
                    g["resource"]["id"] == "orphan"
                        || g["resource"] == json!({"type": "App", "id": "wiki"})
                }),
            ),
            // policy: id or key
            (
                vec![f("policy", "EQUALS", vec![json!("vip")])],
                w.expect(|g| g["policy_id"] == vip_id.as_str()),
            ),
            (
                vec![f("policy", "EQUALS", vec![json!(main_id.clone())])],
                w.expect(|g| g["policy_id"] == main_id.as_str()),
            ),
            (
                vec![f("policy", "NOT_EQUALS", vec![json!("vip")])],
                w.expect(|g| g["policy_id"] != vip_id.as_str()),
            ),
            (
                vec![f(
                    "policy",
                    "IS_ANY_OF",
                    vec![json!("vip"), json!(main_id.clone())],
                )],
                w.expect(|_| true),
            ),
            // scopes as a set
            (
                vec![f("scopes", "CONTAINS", vec![json!("read")])],
                w.expect(|g| scopes(g).contains("read")),
            ),
            (
                vec![f("scopes", "CONTAINS", vec![json!("read"), json!("write")])],
                w.expect(|g| scopes(g).contains("read") && scopes(g).contains("write")),
            ),
            (
                vec![f("scopes", "NOT_CONTAINS", vec![json!("write")])],
                w.expect(|g| !scopes(g).contains("write")),
            ),
            (
                vec![f(
                    "scopes",
                    "IS_ANY_OF",
                    vec![json!("write"), json!("admin")],
                )],
                w.expect(|g| scopes(g).contains("write") || scopes(g).contains("admin")),
            ),
            (
                vec![f(
                    "scopes",
                    "IS_NOT_ANY_OF",
                    vec![json!("admin"), json!("write")],
                )],
                w.expect(|g| !scopes(g).contains("write") && !scopes(g).contains("admin")),
            ),
            (
                vec![f("scopes", "IS_EXACTLY", vec![json!("read")])],
                w.expect(|g| scopes(g) == BTreeSet::from(["read".to_string()])),
            ),
            (
                vec![f("scopes", "EQUALS", vec![json!("write"), json!("read")])],
                w.expect(|g| {
                    scopes(g) == BTreeSet::from(["read".to_string(), "write".to_string()])
                }),
            ),
            (
                vec![f("scopes", "IS_NULL", vec![])],
                w.expect(|g| scopes(g).is_empty()),
            ),
            (
                vec![f("scopes", "IS_NOT_NULL", vec![])],
                w.expect(|g| !scopes(g).is_empty()),
            ),
            // granted_by / requested_by
            (
                vec![f("granted_by", "EQUALS", vec![json!("manager-1")])],
                w.expect(|g| g["granted_by"] == "manager-1"),
            ),
            (
                vec![f("granted_by", "STARTS_WITH", vec![json!("MANAGER")])],
                w.expect(|g| !g["granted_by"].is_null()),
            ),
            (
                vec![f("granted_by", "IS_NULL", vec![])],
                w.expect(|g| g["granted_by"].is_null()),
            ),
            (
                vec![f("requested_by", "IS_NOT_NULL", vec![])],
                w.expect(|g| !g["requested_by"].is_null()),
            ),
            (
                vec![f("requested_by", "TEXT_CONTAINS", vec![json!("bob@")])],
                w.expect(|g| text(g, "requested_by").is_some_and(|r| r.contains("bob@"))),
            ),
            (
                vec![f(
                    "requested_by",
                    "NOT_EQUALS",
                    vec![json!("portal:bob@example.com")],
                )],
                w.expect(|g| g["requested_by"] != "portal:bob@example.com"),
            ),
            // timestamps
            (
                vec![f(
                    "granted_at",
                    "IS_BETWEEN",
                    vec![json!(format_ts(&t10)), json!(format_ts(&t30))],
                )],
                w.expect(|g| (t10..=t30).contains(&time(g, "granted_at").unwrap())),
            ),
            (
                vec![f(
                    "granted_at",
                    "GREATER_THAN",
                    vec![json!(format_ts(&t30))],
                )],
                w.expect(|g| time(g, "granted_at").unwrap() > t30),
            ),
            (
                vec![f("granted_at", "LESS_THAN", vec![json!(format_ts(&t30))])],
                w.expect(|g| time(g, "granted_at").unwrap() < t30),
            ),
            (
                vec![f(
                    "granted_at",
                    "IS_ON_OR_BEFORE",
                    vec![json!(format_ts(&t10))],
                )],
                w.expect(|g| time(g, "granted_at").unwrap() <= t10),
            ),
            (
                vec![f(
                    "granted_at",
                    "GREATER_THAN_EQUALS",
                    vec![json!(format_ts(&t10))],
                )],
                w.expect(|g| time(g, "granted_at").unwrap() >= t10),
            ),
            (
                vec![f("granted_at", "EQUALS", vec![json!(format_ts(&t10))])],
                w.expect(|g| time(g, "granted_at").unwrap() == t10),
            ),
            (
                vec![f("expires_at", "IS_WITHIN", vec![json!("P2D")])],
                w.expect(|g| {
                    (time(g, "expires_at").unwrap() - now).num_seconds().abs() <= 2 * 86400
                }),
            ),
            (
                vec![f("expires_at", "IS_WITHIN", vec![json!("PT2H")])],
                w.expect(|g| {
                    (time(g, "expires_at").unwrap() - now).num_seconds().abs() <= 2 * 3600
                }),
            ),
            (
                vec![f(
                    "expires_at",
                    "IS_ON_OR_AFTER",
                    vec![json!(format_ts(&(now + Duration::days(5))))],
                )],
                w.expect(|g| time(g, "expires_at").unwrap() >= now + Duration::days(5)),
            ),
            (
                vec![f(
                    "last_login_at",
                    "IS_ON_OR_BEFORE",
                    vec![json!(format_ts(&used[0]))],
                )],
                w.expect(|g| time(g, "last_used_at").is_some_and(|t| t <= used[0])),
            ),
            (
                // every used grant, one of them granted after its last use
                vec![f(
                    "last_login_at",
                    "IS_ON_OR_BEFORE",
                    vec![json!(format_ts(used.last().unwrap()))],
                )],
                w.expect(|g| !g["last_used_at"].is_null()),
            ),
            (
                vec![f("last_used_at", "IS_NOT_NULL", vec![])],
                w.expect(|g| !g["last_used_at"].is_null()),
            ),
            (
                vec![f("last_login_at", "IS_NULL", vec![])],
                w.expect(|g| g["last_used_at"].is_null()),
            ),
            (
                vec![f("revoked_at", "IS_NOT_NULL", vec![])],
                w.expect(|g| g["status"] == "REVOKED"),
            ),
            (
                vec![f("revoked_at", "IS_WITHIN", vec![json!("P1D")])],
                w.expect(|g| g["status"] == "REVOKED"),
            ),
            (
                vec![f(
                    "created_at",
                    "LESS_THAN_EQUALS",
                    vec![json!(format_ts(&t10))],
                )],
                w.expect(|g| time(g, "created_at").unwrap() <= t10),
            ),
            (
                vec![f(
                    "updated_at",
                    "GREATER_THAN",
                    vec![json!(format_ts(&(t30 + Duration::seconds(60))))],
                )],
                w.expect(|g| time(g, "updated_at").unwrap() > t30 + Duration::seconds(60)),
            ),
            (
                vec![f("updated_at", "NOT_IN", vec![json!(format_ts(&t10))])],
                w.expect(|g| time(g, "updated_at").unwrap() != t10),
            ),
            // bounds at the end of representable time do not wrap around
            (
                vec![f(
                    "expires_at",
                    "GREATER_THAN",
                    vec![json!("9999-12-31T23:59:59.999999Z")],
                )],
                BTreeSet::new(),
            ),
            (
                vec![f(
                    "expires_at",
                    "IS_ON_OR_AFTER",
                    vec![json!("9999-12-31T23:59:59.9999999Z")],
                )],
                BTreeSet::new(),
            ),
            (
                vec![f(
                    "expires_at",
                    "IS_ON_OR_BEFORE",
                    vec![json!("9999-12-31T23:59:59.999999Z")],
                )],
                w.expect(|_| true),
            ),
            // a long list of entity uids (flat SQL, no expression-depth limit)
            (
                vec![f(
                    "principal",
                    "IS_ANY_OF",
                    (0..1000)
                        .map(|i| json!(format!("User::\"nobody{i}\"")))
                        .chain([json!("User::\"erin\"")])
                        .take(1000)
                        .collect(),
                )],
                BTreeSet::new(),
            ),
            (
                vec![f(
                    "principal",
                    "IS_ANY_OF",
                    std::iter::once(json!("User::\"erin\""))
                        .chain((0..999).map(|i| json!(format!("User::\"n{i}\""))))
                        .collect(),
                )],
                w.expect(|g| g["principal"]["id"] == "erin"),
            ),
            // ANDed
            (
                vec![
                    f("status", "IS_ANY_OF", vec![json!("ACTIVE")]),
                    f("app", "IS_ANY_OF", vec![json!("erp"), json!("crm")]),
                    f("user", "IS_NOT_ANY_OF", vec![json!("alice")]),
                ],
                w.expect(|g| {
                    active(g)
                        && (g["app"] == "erp" || g["app"] == "crm")
                        && g["principal"]["id"] != "alice"
                }),
            ),
            (
                vec![
                    f("status", "EQUALS", vec![json!("ACTIVE")]),
                    f("expires_at", "IS_WITHIN", vec![json!("P3D")]),
                    f("scopes", "CONTAINS", vec![json!("read")]),
                ],
                w.expect(|g| {
                    active(g)
                        && (time(g, "expires_at").unwrap() - now).num_seconds().abs() <= 3 * 86400
                        && scopes(g).contains("read")
                }),
            ),
        ];
        let mut nontrivial = 0;
        for (filters, expected) in cases {
            let got = w.ids(Value::Array(filters.clone())).await;
            assert_eq!(got, expected, "{}", Value::Array(filters));
            if !expected.is_empty() && expected.len() < w.grants.len() {
                nontrivial += 1;
            }
        }
        assert!(nontrivial >= 50, "{nontrivial}");
        // no filters: everything
        assert_eq!(w.ids(json!([])).await.len(), 60);
        // the items are the grants as GET shows them
        let all = w.list_all(json!([]), "").await;
        let by_id: BTreeMap<String, &Value> = w.grants.iter().map(|g| (id(g), g)).collect();
        for g in &all {
            assert_eq!(&g, by_id.get(&id(g)).unwrap());
        }
    }

    #[tokio::test]
    async fn sort_orders_pages_ids_search_and_tokens() {
        let w = world().await;
        for (order, key, desc) in [
            ("GRANTED_AT_DESC", "granted_at", true),
            ("GRANTED_AT_ASC", "granted_at", false),
            ("EXPIRES_AT_ASC", "expires_at", false),
            ("EXPIRES_AT_DESC", "expires_at", true),
            ("CREATED_AT_ASC", "created_at", false),
            ("CREATED_AT_DESC", "created_at", true),
            ("UPDATED_AT_ASC", "updated_at", false),
            ("UPDATED_AT_DESC", "updated_at", true),
        ] {
            let mut expected: Vec<&Value> = w.grants.iter().collect();
            expected.sort_by_key(|g| (time(g, key).unwrap(), id(g)));
            if desc {
                expected.reverse();
            }
            let expected: Vec<String> = expected.into_iter().map(id).collect();
            let got: Vec<String> = w
                .list_all(json!([]), &format!("sort_order={order}"))
                .await
                .iter()
                .map(id)
                .collect();
            assert_eq!(got, expected, "{order}");
            // pairs of grants share granted_at: ties are broken by id
            if key == "granted_at" {
                assert!(w
                    .grants
                    .windows(2)
                    .any(|p| p[0]["granted_at"] == p[1]["granted_at"]));
            }
            // page=N is the N-th slice of the same order
            let r = w
                .list_page(
                    &w.req,
                    &json!([]),
                    &format!("sort_order={order}&per_page=7&page=3"),
                )
                .await;
            assert_eq!(r.status, 200);
            let page3: Vec<String> = r.body["items"].as_array().unwrap().iter().map(id).collect();
            assert_eq!(page3, expected[14..21].to_vec(), "{order} page 3");
            assert_eq!(
                (r.body["page"].as_i64(), r.body["total"].as_i64()),
                (Some(3), Some(60))
            );
            // its token continues at page 4
            let t = r.body["next_page_token"].as_str().unwrap();
            let r = w
                .list_page(
                    &w.req,
                    &json!([]),
                    &format!("sort_order={order}&per_page=7&next_page_token={t}"),
                )
                .await;
            let page4: Vec<String> = r.body["items"].as_array().unwrap().iter().map(id).collect();
            assert_eq!(page4, expected[21..28].to_vec());
            assert_eq!(r.body["page"], 4);
        }
        // the default order is GRANTED_AT_DESC, the default page size 25
        let r = w.list_page(&w.req, &json!([]), "").await;
        assert_eq!(
            (
                r.body["per_page"].as_i64(),
                r.body["items"].as_array().unwrap().len()
            ),
            (Some(25), 25)
        );
        let first = &r.body["items"][0];
        assert!(w
            .grants
            .iter()
            .all(|g| time(g, "granted_at") <= time(first, "granted_at")));
        // past the end: empty, no token
        let r = w.list_page(&w.req, &json!([]), "page=9&per_page=10").await;
        assert_eq!(r.body["items"], json!([]));
        assert_eq!(r.body["next_page_token"], Value::Null);
        assert_eq!(r.body["total"], 60);

        // ids
        let pick: Vec<String> = [3, 17, 42].iter().map(|i| id(&w.grants[*i])).collect();
        let r = w
            .list_page(&w.req, &json!([]), &format!("ids={}", pick.join(",")))
            .await;
        let got: BTreeSet<String> = r.body["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(got, pick.iter().cloned().collect());
        // combined with a filter
        let r = w
            .list_page(
                &w.req,
                &json!([f(
                    "user",
                    "EQUALS",
                    vec![json!(w.grants[3]["principal"]["id"].clone())]
                )]),
                &format!("ids={}", pick.join(",")),
            )
            .await;
        assert_eq!(r.body["total"], 1);
        // search_key: principal, resource, app, reason; `%` and `_` are literal
        let wr = &w;
        let search = |q: &str| {
            let q = q.to_string();
            let w = wr;
            async move {
                let r = w
                    .list_page(
                        &w.req,
                        &json!([]),
                        &format!("per_page=100&search_key={}", urlencode(&q)),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(id)
                    .collect::<BTreeSet<_>>()
            }
        };
        let matches = |g: &Value, q: &str| {
            let q = q.to_ascii_lowercase();
            [
                g["principal"]["type"].clone(),
                g["principal"]["id"].clone(),
                g["resource"]["type"].clone(),
                g["resource"]["id"].clone(),
                g["app"].clone(),
                g["reason"].clone(),
            ]
            .iter()
            .any(|v| {
                v.as_str()
                    .is_some_and(|s| s.to_ascii_lowercase().contains(&q))
            })
        };
        for q in [
            "50%",
            "50_",
            "%",
            "CAROL",
            "wiki",
            "ticket-1",
            "entitlement",
        ] {
            let expected = w.expect(|g| matches(g, q));
            assert_eq!(search(q).await, expected, "search_key={q}");
            if q != "entitlement" {
                assert!(expected.len() < w.grants.len(), "{q}");
            }
        }
        // `_` and `%` are literal: "50_" occurs nowhere although "50%" and "50x" do
        assert!(search("50_").await.is_empty());
        assert!(!search("50%").await.is_empty());
        // policy_id (id or key) and app_id
        let r = w
            .list_page(&w.req, &json!([]), "per_page=100&policy_id=vip")
            .await;
        assert_eq!(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(id)
                .collect::<BTreeSet<_>>(),
            w.expect(|g| g["policy_key"] == "vip")
        );
        let r = w
            .list_page(
                &w.req,
                &json!([]),
                &format!(
                    "per_page=100&policy_id={}&app_id=erp",
                    w.main_policy["id"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(id)
                .collect::<BTreeSet<_>>(),
            w.expect(|g| g["policy_key"] == "main" && g["app"] == "erp")
        );

        // tokens are bound to their query and cannot be edited
        let filters = json!([f("status", "IS_ANY_OF", vec![json!("ACTIVE")])]);
        let r = w.list_page(&w.req, &filters, "per_page=5").await;
        let token = r.body["next_page_token"].as_str().unwrap().to_string();
        assert_eq!(
            w.list_page(
                &w.req,
                &filters,
                &format!("per_page=5&next_page_token={token}")
            )
            .await
            .status,
            200
        );
        let other = json!([f("status", "IS_ANY_OF", vec![json!("INACTIVE")])]);
        w.list_page(
            &w.req,
            &other,
            &format!("per_page=5&next_page_token={token}"),
        )
        .await
        .assert_error(400, "invalid_input");
        w.list_page(
            &w.req,
            &filters,
            &format!("per_page=5&sort_order=EXPIRES_AT_ASC&next_page_token={token}"),
        )
        .await
        .assert_error(400, "invalid_input");
        w.list_page(
            &w.req,
            &filters,
            &format!("per_page=5&app_id=crm&next_page_token={token}"),
        )
        .await
        .assert_error(400, "invalid_input");
        let mut forged = token.clone().into_bytes();
        let i = forged.len() / 3;
        forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        w.list_page(
            &w.req,
            &filters,
            &format!("per_page=5&next_page_token={forged}"),
        )
        .await
        .assert_error(400, "invalid_input");
        // the auditor reads the list too
        assert_eq!(w.list_page(&w.auditor, &json!([]), "").await.status, 200);
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

backends! {
    #[tokio::test]
    async fn bad_filters_and_parameters_are_400_naming_the_problem() {
        let (s, t, req, _, _) = start().await;
        let list = |body: Value, q: &'static str| {
            let (s, t, req) = (&s, &t, &req);
            async move {
                send(
                    s,
                    req,
                    t,
                    Method::POST,
                    &format!("/v1/grants/list{q}"),
                    Some(body),
                )
                .await
            }
        };
        for (body, q, words) in [
            (
                json!([f("colour", "EQUALS", vec![json!("x")])]),
                "",
                vec!["colour", "unknown attribute"],
            ),
            (
                json!([f("app", "LIKE", vec![json!("x")])]),
                "",
                vec!["LIKE", "unknown operator"],
            ),
            (
                json!([f("app", "IS_BETWEEN", vec![json!("a"), json!("b")])]),
                "",
                vec!["app", "IS_BETWEEN", "does not apply"],
            ),
            (
                json!([f(
                    "granted_at",
                    "IS_BETWEEN",
                    vec![json!("2026-01-01T00:00:00Z")]
                )]),
                "",
                vec!["granted_at", "exactly 2 values"],
            ),
            (
                json!([f("scopes", "STARTS_WITH", vec![json!("r")])]),
                "",
                vec!["scopes", "STARTS_WITH"],
            ),
            (
                json!([f("app", "IS_NULL", vec![json!("x")])]),
                "",
                vec!["IS_NULL", "no values"],
            ),
            (
                json!([f("user", "IS_NULL", vec![])]),
                "",
                vec!["user", "never null"],
            ),
            (
                json!([f("expires_at", "IS_WITHIN", vec![json!("a week")])]),
                "",
                vec!["IS_WITHIN", "ISO 8601"],
            ),
            (
                json!([f(
                    "expires_at",
                    "IS_ON_OR_BEFORE",
                    vec![json!("2026-13-01T00:00:00Z")]
                )]),
                "",
                vec!["expires_at", "RFC 3339"],
            ),
            (
                json!([f("status", "EQUALS", vec![json!("LIVE")])]),
                "",
                vec!["status", "not a status"],
            ),
            (
                json!([{"attribute": "app", "operator": "EQUALS", "values": [{"value": "x"}], "extra": 1}]),
                "",
                vec!["extra"],
            ),
            (
                json!([{"attribute": "app", "operator": "EQUALS", "values": ["x"]}]),
                "",
                vec!["invalid"],
            ),
            (json!({"attribute": "app"}), "", vec!["invalid"]),
            (json!([]), "?sort_order=NEWEST", vec!["sort_order"]),
            (json!([]), "?per_page=0", vec!["per_page"]),
            (json!([]), "?per_page=101", vec!["per_page"]),
            (json!([]), "?page=0", vec!["page"]),
            (json!([]), "?ids=not-a-uuid", vec!["ids"]),
            (
                json!([]),
                "?next_page_token=garbage",
                vec!["next_page_token"],
            ),
            (json!([]), "?colour=red", vec!["colour"]),
            (
                Value::Array(
                    (0..6)
                        .map(|_| {
                            f(
                                "user",
                                "IN",
                                (0..1000).map(|i| json!(format!("u{i}"))).collect(),
                            )
                        })
                        .collect(),
                ),
                "",
                vec!["values over all filters"],
            ),
        ] {
            let r = list(body.clone(), q).await;
            r.assert_error(400, "invalid_input");
            let msg = r.body["message"].as_str().unwrap();
            for w in words {
                assert!(msg.contains(w), "{body} {q}: {msg} should mention {w}");
            }
        }
        // the index of the offending filter is in details
        let r = list(
            json!([
                f("app", "EQUALS", vec![json!("x")]),
                f("app", "EQUALS", vec![])
            ]),
            "",
        )
        .await;
        assert_eq!(
            r.body["details"],
            json!({"filter": 1, "attribute": "app", "operator": "EQUALS"})
        );
        // a missing body is an empty filter list
        let r = s
            .call(
                Method::POST,
                "/v1/grants/list",
                Some(&req),
                Some(&t.id),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["total"], 0);
        // bulk revoke checks the same filters, refuses an empty filter list and needs a reason
        let admin = |body: Value| {
            send(
                &s,
                &t.admin_key,
                &t,
                Method::POST,
                "/v1/grants/revoke",
                Some(body),
            )
        };
        admin(json!({"filters": [f("app", "LIKE", vec![json!("x")])], "reason": "x"}))
            .await
            .assert_error(400, "invalid_input");
        admin(json!({"filters": [], "reason": "x"}))
            .await
            .assert_error(400, "invalid_input");
        admin(json!({"filters": [f("app", "EQUALS", vec![json!("x")])]}))
            .await
            .assert_error(400, "invalid_input");
        admin(json!({"filters": [f("app", "EQUALS", vec![json!("x")])], "reason": " "}))
            .await
            .assert_error(400, "invalid_input");
        send(
            &s,
            &req,
            &t,
            Method::POST,
            "/v1/grants/revoke",
            Some(json!({"filters": [f("app", "EQUALS", vec![json!("x")])], "reason": "x"})),
        )
        .await
        .assert_error(403, "forbidden");
    }

    #[tokio::test]
    async fn bulk_revoke_revokes_exactly_the_matching_active_grants_each_audited() {
        let w = world().await;
        let filters = json!([
            f("user", "IS_ANY_OF", vec![json!("bob"), json!("carol")]),
            f("app", "NOT_EQUALS", vec![json!("wiki")])
        ]);
        let matching = |g: &Value| {
            (g["principal"]["id"] == "bob" || g["principal"]["id"] == "carol") && g["app"] != "wiki"
        };
        let expected =
            w.expect(|g| matching(g) && (g["status"] == "GRANTED" || g["status"] == "EXTENDED"));
        assert!(expected.len() >= 5, "{}", expected.len());
        let before_events = w.s.events(&w.t.id).await.len();
        let r = send(
            &w.s,
            &w.t.admin_key,
            &w.t,
            Method::POST,
            "/v1/grants/revoke",
            Some(json!({"filters": filters, "reason": "offboarding"})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"revoked": expected.len()}));
        for old in &w.grants {
            let now = send(
                &w.s,
                &w.req,
                &w.t,
                Method::GET,
                &format!("/v1/grants/{}", id(old)),
                None,
            )
            .await
            .body;
            if expected.contains(&id(old)) {
                assert_eq!(now["status"], "REVOKED");
                assert_eq!(now["revoke_reason"], "offboarding");
                let key_id: uuid::Uuid = w.t.admin_key.split('_').nth(1).unwrap().parse().unwrap();
                assert_eq!(now["revoked_by"], key_id.to_string());
                assert_eq!(
                    now["version"].as_i64(),
                    old["version"].as_i64().map(|v| v + 1)
                );
            } else {
                assert_eq!(&now, old, "untouched");
            }
        }
        let events = w.s.events(&w.t.id).await;
        let new: Vec<&(String, Value)> = events[before_events..].iter().collect();
        assert_eq!(new.len(), expected.len());
        let subjects: BTreeSet<String> = new
            .iter()
            .map(|(k, e)| {
                assert_eq!(k, "grant.revoke");
                assert_eq!(e["request"]["reason"], "offboarding");
                assert!(e["request"]["bulk_id"].is_string());
                assert_eq!(e["request"]["bulk_id"], new[0].1["request"]["bulk_id"]);
                assert_eq!(e["actor"]["role"], "admin");
                e["subject"]["id"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(subjects, expected);
        // again: nothing left to revoke
        let r = send(
            &w.s,
            &w.t.admin_key,
            &w.t,
            Method::POST,
            "/v1/grants/revoke",
            Some(json!({"filters": filters, "reason": "offboarding"})),
        )
        .await;
        assert_eq!(r.body, json!({"revoked": 0}));
    }

    #[tokio::test]
    async fn bulk_revoke_works_in_batches_over_many_grants() {
        let (s, t, req, _, _) = start().await;
        let n = 450; // more than two batches of 200
        for i in 0..n {
            let user = if i % 10 == 0 { "bob" } else { "alice" };
            let r = send(
                &s,
                &req,
                &t,
                Method::POST,
                "/v1/grants",
                Some(json!({
                "principal": {"type": "User", "id": user}, "resource": {"type": "App", "id": "crm"}})),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/grants/revoke",
            Some(json!({"filters": [f("principal", "EQUALS", vec![json!("User::\"alice\"")])], "reason": "left"}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["revoked"], 405);
        let page =
            |filters: Value| send(&s, &req, &t, Method::POST, "/v1/grants/list", Some(filters));
        assert_eq!(
            page(json!([f("status", "EQUALS", vec![json!("REVOKED")])]))
                .await
                .body["total"],
            405
        );
        assert_eq!(
            page(json!([f("status", "EQUALS", vec![json!("ACTIVE")])]))
                .await
                .body["total"],
            45
        );
        let events = s.events(&t.id).await;
        assert_eq!(
            events.iter().filter(|(k, _)| k == "grant.revoke").count(),
            405
        );
        let verify = s.admin_get(&t, "/v1/audit-events/verify").await;
        assert_eq!(verify.body["ok"], true, "{}", verify.text);
    }

    #[tokio::test]
    async fn a_cursor_walk_sees_every_grant_once_while_grants_are_written() {
        let w = world().await;
        for order in ["GRANTED_AT_DESC", "CREATED_AT_ASC", "GRANTED_AT_ASC"] {
            let before: BTreeSet<String> = w.grants.iter().map(id).collect();
            let mut seen: Vec<String> = Vec::new();
            let mut token: Option<String> = None;
            let mut round = 0;
            loop {
                let q = match &token {
                    Some(t) => format!("per_page=4&sort_order={order}&next_page_token={t}"),
                    None => format!("per_page=4&sort_order={order}"),
                };
                let r = w.list_page(&w.req, &json!([]), &q).await;
                assert_eq!(r.status, 200, "{}", r.text);
                seen.extend(r.body["items"].as_array().unwrap().iter().map(id));
                // between pages: new grants arrive, and grants not yet seen are extended, have
                // their scopes changed, or are revoked
                round += 1;
                for k in 0..2 {
                    let r = send(&w.s, &w.req, &w.t, Method::POST, "/v1/grants", Some(json!({
                        "principal": {"type": "User", "id": USERS[(round + k) % 5]},
                        "resource": {"type": "App", "id": "crm"}, "reason": format!("during walk {round}")}))).await;
                    assert_eq!(r.status, 201, "{}", r.text);
                }
                if let Some(g) = w.grants.iter().rev().find(|g| {
                    !seen.contains(&id(g))
                        && (g["status"] == "GRANTED" || g["status"] == "EXTENDED")
                }) {
                    let path = format!("/v1/grants/{}", id(g));
                    let r = match round % 3 {
                        0 => {
                            send(
                                &w.s,
                                &w.req,
                                &w.t,
                                Method::POST,
                                &format!("{path}/extend"),
                                Some(json!({"duration_seconds": 86400 * 10})),
                            )
                            .await
                        }
                        1 => {
                            send(
                                &w.s,
                                &w.req,
                                &w.t,
                                Method::PUT,
                                &path,
                                Some(json!({"scopes": ["read"]})),
                            )
                            .await
                        }
                        _ => {
                            send(
                                &w.s,
                                &w.req,
                                &w.t,
                                Method::POST,
                                &format!("{path}/revoke"),
                                None,
                            )
                            .await
                        }
                    };
                    assert!(r.status == 200 || r.status == 409, "{}", r.text);
                }
                match r.body["next_page_token"].as_str() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
                w.s.clock.advance(Duration::milliseconds(1));
            }
            let unique: BTreeSet<String> = seen.iter().cloned().collect();
            assert_eq!(
                unique.len(),
                seen.len(),
                "{order}: a grant was returned twice"
            );
            assert!(before.is_subset(&unique), "{order}: a grant was missed");
        }
    }

    #[tokio::test]
    async fn tenants_never_see_or_revoke_each_others_grants() {
        let (s, a, req_a, _, _) = start().await;
        // tenant B: same users, same apps, its own policy
        let b = s.tenant().await;
        let r = send(
            &s,
            &b.admin_key,
            &b,
            Method::PUT,
            "/v1/entities",
            Some(entities()),
        )
        .await;
        assert_eq!(r.status, 200);
        let r = send(
            &s,
            &b.admin_key,
            &b,
            Method::POST,
            "/v1/policies",
            Some(json!({"key": "main", "name": "main",
            "max_duration_seconds": 86400, "rules": [{"effect": "permit", "principal_scope_type": "any",
            "action_scope_type": "in", "action_ids": ["request"], "resource_scope_type": "any"}]})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let req_b = s.key(&b, "requester").await;
        let grant = |key: &str, t: &Tenant, user: &str| {
            let (key, t, user) = (key.to_string(), t.clone(), user.to_string());
            let s = &s;
            async move {
                let r = send(s, &key, &t, Method::POST, "/v1/grants", Some(json!({
                    "principal": {"type": "User", "id": user}, "resource": {"type": "App", "id": "crm"}}))).await;
                assert_eq!(r.status, 201, "{}", r.text);
                id(&r.body)
            }
        };
        let mut a_ids = BTreeSet::new();
        let mut b_ids = BTreeSet::new();
        for u in USERS {
            a_ids.insert(grant(&req_a, &a, u).await);
            b_ids.insert(grant(&req_b, &b, u).await);
        }
        let list = |key: &str, t: &Tenant, q: String| {
            let (key, t) = (key.to_string(), t.clone());
            let s = &s;
            async move {
                let r = send(
                    s,
                    &key,
                    &t,
                    Method::POST,
                    &format!("/v1/grants/list?per_page=100&{q}"),
                    Some(json!([])),
                )
                .await;
                assert_eq!(r.status, 200);
                (
                    r.body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(id)
                        .collect::<BTreeSet<_>>(),
                    r.body["total"].clone(),
                )
            }
        };
        assert_eq!(
            list(&req_a, &a, String::new()).await,
            (a_ids.clone(), json!(5))
        );
        assert_eq!(
            list(&req_b, &b, String::new()).await,
            (b_ids.clone(), json!(5))
        );
        // B's ids asked for in A: nothing
        let b_list: Vec<String> = b_ids.iter().cloned().collect();
        assert_eq!(
            list(&req_a, &a, format!("ids={}", b_list.join(",")))
                .await
                .1,
            json!(0)
        );
        // B's policy key and A's policy key are both "main": each sees only its own (in A,
        // alice's grant is governed by "vip")
        let (main_a, n) = list(&req_a, &a, "policy_id=main".into()).await;
        assert_eq!((main_a.len(), n), (4, json!(4)));
        assert!(main_a.is_subset(&a_ids));
        assert_eq!(list(&req_b, &b, "policy_id=main".into()).await.0, b_ids);
        // B's cursor is not valid in A
        let r = send(
            &s,
            &req_b,
            &b,
            Method::POST,
            "/v1/grants/list?per_page=2",
            Some(json!([])),
        )
        .await;
        let token = r.body["next_page_token"].as_str().unwrap().to_string();
        send(
            &s,
            &req_a,
            &a,
            Method::POST,
            &format!("/v1/grants/list?per_page=2&next_page_token={token}"),
            Some(json!([])),
        )
        .await
        .assert_error(400, "invalid_input");
        // bulk revoke in B of every user touches nothing in A
        let r = send(
            &s,
            &b.admin_key,
            &b,
            Method::POST,
            "/v1/grants/revoke",
            Some(json!({
            "filters": [f("status", "IS_ANY_OF", vec![json!("ACTIVE")])], "reason": "wipe"})),
        )
        .await;
        assert_eq!(r.body, json!({"revoked": 5}));
        let r = send(
            &s,
            &req_a,
            &a,
            Method::POST,
            "/v1/grants/list",
            Some(json!([f("status", "IS_ANY_OF", vec![json!("ACTIVE")])])),
        )
        .await;
        assert_eq!(r.body["total"], 5);
        // the unfiltered totals (the per-tenant grant count) are unmoved by status changes and
        // follow new grants in their own tenant only
        assert_eq!(list(&req_b, &b, String::new()).await.1, json!(5));
        grant(&req_a, &a, "alice").await;
        assert_eq!(list(&req_a, &a, String::new()).await.1, json!(6));
        assert_eq!(list(&req_b, &b, String::new()).await.1, json!(5));
        // A's key with B's tenant id: tenant_mismatch
        send(
            &s,
            &req_a,
            &b,
            Method::POST,
            "/v1/grants/list",
            Some(json!([])),
        )
        .await
        .assert_error(403, "tenant_mismatch");
    }

    /// The `total` of status and time-range filters is summed from per-day counts (migration
    /// 0010) plus exact counts of the end days; over a population spread across four weeks,
    /// and again after writes move grants between days and statuses, every such total equals
    /// the number of grants the cursor walk returns (which reads the grants themselves).
    #[tokio::test]
    async fn totals_summed_from_day_counts_equal_the_grants_walked() {
        let (s, t, req, main_policy, vip_policy) = start().await;
        let mut ids = Vec::new();
        for day in 0..28i64 {
            for k in 0..3i64 {
                let i = (day * 3 + k) as usize;
                let duration = match k {
                    0 => 3600,
                    1 => 86400 * (1 + day % 5),
                    _ => 86400 * (3 + day % 11) + 1234,
                };
                let body = json!({"principal": {"type": "User", "id": USERS[i % 5]},
                    "resource": {"type": "Entitlement", "id": ENTITLEMENTS[i % 6].0},
                    "duration_seconds": duration, "reason": format!("day {day}")});
                let r = send(&s, &req, &t, Method::POST, "/v1/grants", Some(body)).await;
                assert_eq!(r.status, 201, "{}", r.text);
                ids.push(r.body["id"].as_str().unwrap().to_string());
            }
            if day % 4 == 1 {
                // a use of the newest long grant stamps its last_used_at (asynchronously)
                let i = ids.len() - 1;
                let r = send(
                    &s,
                    &req,
                    &t,
                    Method::POST,
                    "/v1/access/check",
                    Some(json!({
                    "principal": {"type": "User", "id": USERS[i % 5]},
                    "resource": {"type": "Entitlement", "id": ENTITLEMENTS[i % 6].0}})),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.text);
                assert_eq!(r.body["allowed"], true, "{}", r.text);
                let used = r.body["grant_id"].as_str().unwrap().to_string();
                for _ in 0..300 {
                    let g = send(
                        &s,
                        &req,
                        &t,
                        Method::GET,
                        &format!("/v1/grants/{used}"),
                        None,
                    )
                    .await;
                    if !g.body["last_used_at"].is_null() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
            if day % 5 == 2 {
                let r = send(
                    &s,
                    &req,
                    &t,
                    Method::POST,
                    &format!("/v1/grants/{}/revoke", ids[ids.len() - 2]),
                    Some(json!({"reason": "done"})),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.text);
            }
            if day == 14 {
                // persist the expiries so far; later ones stay expired only effectively
                grantd::service::grants::sweep(&s.state.services.store, s.clock.now())
                    .await
                    .unwrap();
            }
            // a day and a bit, so times of day differ
            s.clock.advance(Duration::hours(24) + Duration::minutes(47));
        }
        let w = World {
            s,
            t,
            req,
            auditor: String::new(),
            main_policy,
            vip_policy,
            grants: Vec::new(),
        };
        let now = w.now();
        let at = |d: Duration| json!(format_ts(&(now + d)));
        let midnight = |days: i64| {
            let d = (now + Duration::days(days)).date_naive();
            json!(format!("{d}T00:00:00Z"))
        };
        let checks = vec![
            json!([f("status", "EQUALS", vec![json!("ACTIVE")])]),
            json!([f("status", "EQUALS", vec![json!("INACTIVE")])]),
            json!([f("status", "IS_ANY_OF", vec![json!("EXPIRED")])]),
            json!([f(
                "status",
                "IS_ANY_OF",
                vec![json!("REVOKED"), json!("GRANTED")]
            )]),
            json!([f("status", "NOT_IN", vec![json!("EXTENDED")])]),
            json!([f(
                "last_login_at",
                "IS_ON_OR_BEFORE",
                vec![at(-Duration::days(3))]
            )]),
            json!([f(
                "last_login_at",
                "IS_ON_OR_BEFORE",
                vec![at(-Duration::days(12))]
            )]),
            json!([f("last_login_at", "IS_ON_OR_AFTER", vec![midnight(-20)])]),
            json!([f(
                "last_login_at",
                "IS_BETWEEN",
                vec![at(-Duration::days(20)), midnight(-4)]
            )]),
            json!([
                f(
                    "last_login_at",
                    "IS_ON_OR_BEFORE",
                    vec![at(-Duration::days(6))]
                ),
                f("status", "EQUALS", vec![json!("REVOKED")])
            ]),
            json!([
                f("status", "EQUALS", vec![json!("ACTIVE")]),
                f("expires_at", "IS_WITHIN", vec![json!("P7D")])
            ]),
            json!([
                f("status", "EQUALS", vec![json!("INACTIVE")]),
                f("expires_at", "IS_WITHIN", vec![json!("P10D")])
            ]),
            json!([f(
                "expires_at",
                "IS_ON_OR_BEFORE",
                vec![at(Duration::days(2))]
            )]),
            json!([
                f("expires_at", "GREATER_THAN", vec![midnight(-9)]),
                f("expires_at", "LESS_THAN", vec![midnight(5)])
            ]),
            json!([f(
                "granted_at",
                "IS_ON_OR_AFTER",
                vec![at(-Duration::days(9))]
            )]),
            json!([
                f(
                    "granted_at",
                    "IS_BETWEEN",
                    vec![midnight(-25), at(-Duration::days(3))]
                ),
                f(
                    "status",
                    "IS_ANY_OF",
                    vec![json!("ACTIVE"), json!("EXPIRED")]
                )
            ]),
            json!([f(
                "granted_at",
                "IS_ON_OR_BEFORE",
                vec![at(-Duration::days(40))]
            )]),
        ];
        let mut totals = Vec::new();
        for c in &checks {
            // list_all asserts that `total` equals the number of grants walked
            totals.push(w.list_all(c.clone(), "").await.len());
        }
        assert!(
            totals.iter().filter(|n| **n > 3).count() >= 10,
            "{totals:?}"
        );
        // writes move grants between days and statuses: extend, revoke, use, expire
        for (i, id) in ids.iter().enumerate().rev().take(30) {
            let (path, body) = match i % 3 {
                0 => (
                    format!("/v1/grants/{id}/extend"),
                    json!({"duration_seconds": 10 * 86400}),
                ),
                1 => (
                    format!("/v1/grants/{id}/revoke"),
                    json!({"reason": "offboarding"}),
                ),
                _ => continue,
            };
            let r = send(&w.s, &w.req, &w.t, Method::POST, &path, Some(body)).await;
            assert!(r.status == 200 || r.status == 409, "{}", r.text);
        }
        w.s.clock.advance(Duration::hours(30));
        grantd::service::grants::sweep(&w.s.state.services.store, w.s.clock.now())
            .await
            .unwrap();
        w.s.clock.advance(Duration::hours(20));
        for c in &checks {
            w.list_all(c.clone(), "").await;
        }
    }

    /// A tenant with more matches than a page reads through the filters' index (20,000):
    /// the list walks the sort order's index. Newest first, of the grants last used by a
    /// time, it starts at that time (a grant is used after it is granted) and finds those
    /// granted later but used before (their `granted_at` moved by an update) on their own.
    #[tokio::test]
    async fn unused_grants_of_a_large_tenant_come_newest_first_with_moved_ones() {
        let (s, t, req, _, _) = start().await;
        let r = send(&s, &req, &t, Method::POST, "/v1/grants", Some(json!({
            "principal": {"type": "User", "id": "alice"}, "resource": {"type": "App", "id": "crm"}}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let template = r.body["id"].as_str().unwrap().to_string();
        // whole seconds (SQLite's date functions keep milliseconds only)
        let base = time(&r.body, "granted_at").unwrap().with_nanosecond(0).unwrap();
        // Copy i (1..=N) is granted i minutes before the template; a third are never used,
        // one in 100 was used 3 hours before it was granted (the newest of them granted after
        // the bound below, the others before it), the rest 1..6 hours after.
        let n: i64 = 36_000;
        let used = |i: i64| -> Option<DateTime<Utc>> {
            let granted = base - Duration::minutes(i);
            match i {
                _ if i % 3 == 0 => None,
                _ if i % 100 == 7 => Some(granted - Duration::hours(3)),
                _ => Some(granted + Duration::hours(1 + i % 6)),
            }
        };
        let b = format_ts(&base);
        let db = s.db().await;
        let copy: Vec<String> = match s.backend {
            common::Backend::Postgres => vec![
                format!("CREATE TEMP TABLE c AS SELECT g.*, i FROM grants g, generate_series(1, {n}) i \
                         WHERE g.id = '{template}'"),
                format!("UPDATE c SET id = gen_random_uuid(), \
                 granted_at = '{b}'::timestamptz - i * interval '1 minute', \
                 last_used_at = CASE WHEN i % 3 = 0 THEN NULL \
                   WHEN i % 100 = 7 THEN '{b}'::timestamptz - i * interval '1 minute' - interval '3 hours' \
                   ELSE '{b}'::timestamptz - i * interval '1 minute' + (1 + i % 6) * interval '1 hour' END"),
            ],
            common::Backend::Sqlite => vec![
                format!("CREATE TEMP TABLE c AS WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL \
                         SELECT i + 1 FROM s WHERE i < {n}) SELECT g.*, i FROM grants g, s WHERE g.id = '{template}'"),
                format!("UPDATE c SET id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
                   substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))), \
                 last_used_at = CASE WHEN i % 3 = 0 THEN NULL \
                   ELSE strftime('%Y-%m-%dT%H:%M:%f', '{b}', printf('%+d minutes', \
                     CASE WHEN i % 100 = 7 THEN -i - 180 ELSE -i + 60 * (1 + i % 6) END)) || '000Z' END, \
                 granted_at = strftime('%Y-%m-%dT%H:%M:%f', '{b}', printf('-%d minutes', i)) || '000Z'"),
            ],
        };
        for sql in copy.iter().map(String::as_str).chain([
            "ALTER TABLE c DROP COLUMN i",
            "INSERT INTO grants SELECT * FROM c",
            "DROP TABLE c",
        ]) {
            sqlx::query(sql).execute(&db).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        db.close().await;
        // last used 2 hours before the template or earlier
        let by = base - Duration::hours(2);
        let mut expected: Vec<(DateTime<Utc>, DateTime<Utc>)> = (1..=n)
            .filter_map(|i| used(i).filter(|u| *u <= by).map(|u| (base - Duration::minutes(i), u)))
            .collect();
        expected.sort_by_key(|g| std::cmp::Reverse(g.0));
        assert!(expected.len() > 20_000, "{}", expected.len());
        assert!(expected[0].1 < expected[0].0, "the newest match was used before it was granted");
        let filters = json!([f("last_login_at", "IS_ON_OR_BEFORE", vec![json!(format_ts(&by))])]);
        let mut token: Option<String> = None;
        let mut got = Vec::new();
        for _ in 0..3 {
            let q = token.map_or(String::new(), |t| format!("&next_page_token={t}"));
            let r = send(&s, &req, &t, Method::POST, &format!("/v1/grants/list?per_page=100{q}"),
                Some(filters.clone())).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["total"], expected.len(), "{}", r.text);
            for g in r.body["items"].as_array().unwrap() {
                got.push((time(g, "granted_at").unwrap(), time(g, "last_used_at").unwrap()));
            }
            token = r.body["next_page_token"].as_str().map(String::from);
        }
        assert_eq!(got.len(), 300);
        assert_eq!(got, expected[..300]);
        // and by page number
        let r = send(&s, &req, &t, Method::POST, "/v1/grants/list?per_page=100&page=5",
            Some(filters.clone())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page: Vec<_> = r.body["items"].as_array().unwrap().iter()
            .map(|g| (time(g, "granted_at").unwrap(), time(g, "last_used_at").unwrap()))
            .collect();
        assert_eq!(page, expected[400..500]);
    }
}
