//! How long `POST /v1/changes/preview` takes on a tenant with many active grants and many
//! recorded decisions (`benches/preview.sh` starts the server and runs this).
//!
//!   preview_bench URL BOOTSTRAP_JSON [grants, default 10000] [decisions, default 10000] [rounds, default 3]
//!
//! Seeds the bootstrap tenant: 1,000 users in 10 groups, 10 apps, 10 policies of 10 rules
//! each (a permit per group and scope set, 8 h), then `grants` grant requests (user i, app
//! i mod 10) and `decisions` authorize calls, 32 at a time. Then previews four changes,
//! `rounds` times each, timing each call from the client: 100 users moved out of their
//! group (an entities write), a policy disabled, a policy's maximum cut to 30 minutes, and
//! a new forbid on one app. Prints each call's time with what it found.

use futures_util::StreamExt;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::time::Instant;

struct Api {
    client: Client,
    base: String,
    tenant: String,
    key: String,
}

impl Api {
    async fn call(&self, m: Method, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .request(m, format!("{}{path}", self.base))
            .header("X-API-Key", &self.key)
            .header("X-Tenant-ID", &self.tenant)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn ok(&self, m: Method, path: &str, body: Value) -> Value {
        let (s, v) = self.call(m, path, body).await;
        assert!((200..300).contains(&s), "{path}: {s} {v}");
        v
    }
}

const USERS: usize = 1000;
const GROUPS: usize = 10;
const APPS: usize = 10;

fn user(i: usize, group: Option<usize>) -> Value {
    let parents = match group {
        Some(g) => json!([{"type": "Group", "id": format!("g{g}")}]),
        None => json!([]),
    };
    json!({"uid": {"type": "User", "id": format!("u{i}")},
        "attrs": {"department": format!("d{}", i % 7)}, "parents": parents})
}

fn policy(g: usize) -> Value {
    let scopes = ["read", "write", "admin", "deploy", "billing"];
    let rules: Vec<Value> = (0..10)
        .map(|r| {
            let cond = if r == 0 {
                String::new()
            } else {
                format!(
                    "when {{ context.scopes.contains(\"{}\") && context.reason != \"r{r}\" }}",
                    scopes[r % scopes.len()]
                )
            };
            json!({"effect": "permit", "principal_scope_type": "in",
                "principal_entity_type": "Group", "principal_entity_id": format!("g{g}"),
                "action_scope_type": "in", "action_ids": ["request", "extend"],
                "resource_scope_type": "any", "conditions": cond})
        })
        .collect();
    json!({"key": format!("g{g}"), "name": format!("group {g}"),
        "max_duration_seconds": 8 * 3600, "priority": g, "rules": rules})
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let boot: Value =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).expect("bootstrap file"))
            .expect("bootstrap JSON");
    let grants: usize = args.get(3).map_or(10_000, |v| v.parse().expect("grants"));
    let decisions: usize = args
        .get(4)
        .map_or(10_000, |v| v.parse().expect("decisions"));
    let rounds: usize = args.get(5).map_or(3, |v| v.parse().expect("rounds"));
    let api = Api {
        client: Client::new(),
        base: args[1].clone(),
        tenant: boot["tenant_id"].as_str().unwrap().to_string(),
        key: boot["api_key"].as_str().unwrap().to_string(),
    };

    let t = Instant::now();
    let mut entities: Vec<Value> = (0..GROUPS)
        .map(|g| json!({"uid": {"type": "Group", "id": format!("g{g}")}, "attrs": {}, "parents": []}))
        .collect();
    entities.extend((0..APPS).map(
        |a| json!({"uid": {"type": "App", "id": format!("a{a}")}, "attrs": {}, "parents": []}),
    ));
    api.ok(Method::PUT, "/v1/entities", Value::Array(entities))
        .await;
    for chunk in (0..USERS).collect::<Vec<_>>().chunks(500) {
        let list: Vec<Value> = chunk.iter().map(|&i| user(i, Some(i % GROUPS))).collect();
        api.ok(Method::PUT, "/v1/entities", Value::Array(list))
            .await;
    }
    for g in 0..GROUPS {
        api.ok(Method::POST, "/v1/policies", policy(g)).await;
    }
    let request = |i: usize| {
        json!({"principal": {"type": "User", "id": format!("u{}", i % USERS)},
            "resource": {"type": "App", "id": format!("a{}", i % APPS)},
            "duration_seconds": 3600 + (i % 4) * 3600, "scopes": ["read"], "reason": "work"})
    };
    let api = &api;
    futures_util::stream::iter(0..grants)
        .map(|i| async move { api.ok(Method::POST, "/v1/grants", request(i)).await })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    futures_util::stream::iter(0..decisions)
        .map(|i| async move {
            api.ok(
                Method::POST,
                "/v1/authorize",
                json!({"principal": {"type": "User", "id": format!("u{}", (i * 7) % USERS)},
                    "action": {"type": "Action", "id": "request"},
                    "resource": {"type": "App", "id": format!("a{}", i % APPS)},
                    "context": {"scopes": ["read"], "reason": "work", "extension_count": 0}}),
            )
            .await
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    println!(
        "seeded {grants} grants and {decisions} decisions in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let moved: Vec<Value> = (0..100).map(|i| user(i * GROUPS, None)).collect();
    let changes = [
        (
            "100 users leave group g0 (PUT /v1/entities)",
            json!({"method": "PUT", "path": "/v1/entities", "body": moved}),
        ),
        (
            "policy g1 disabled",
            json!({"method": "PATCH", "path": "/v1/policies/g1", "body": {"enabled": false}}),
        ),
        (
            "policy g2 max cut to 30 min",
            json!({"method": "PATCH", "path": "/v1/policies/g2", "body": {"max_duration_seconds": 1800}}),
        ),
        (
            "a forbid on app a3",
            json!({"method": "POST", "path": "/v1/policies", "body": {"key": "no-a3", "name": "no a3",
                "max_duration_seconds": 3600, "rules": [{"effect": "forbid", "principal_scope_type": "any",
                "action_scope_type": "any", "resource_scope_type": "eq", "resource_entity_type": "App",
                "resource_entity_id": "a3"}]}}),
        ),
    ];
    let mut worst: f64 = 0.0;
    for (name, change) in &changes {
        for _ in 0..rounds {
            let t = Instant::now();
            let p = api
                .ok(Method::POST, "/v1/changes/preview", change.clone())
                .await;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            worst = worst.max(ms);
            println!(
                "{name}: {ms:.0} ms; grants examined {} {}; decisions replayed {} flipped {}",
                p["grants"]["examined"],
                p["grants"]["counts"],
                p["decisions"]["replayed"],
                p["decisions"]["counts"]["flipped"],
            );
        }
    }
    println!("slowest preview: {worst:.0} ms (target: under 2000 ms)");
}
