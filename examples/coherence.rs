//! How long a write committed on one grantd instance takes to be enforced by another on the
//! same database (`benches/coherence.sh` starts the two instances and runs this).
//!
//!   coherence A_URL B_URL BOOTSTRAP_JSON [rounds, default 1000]
//!
//! Policies: each round flips a policy's `enabled` on A (`PATCH`), then sends decisions to
//! B back to back until one reflects the flip. Keys: each round creates a key on A, uses it
//! on B (so B caches it), revokes it on A, then calls B with it until B refuses it. The lag
//! of a round is from A's answer to the sending of B's first request that reflects the
//! write, so it is exact to within one B request (about half a millisecond here, printed as
//! `poll`). Prints p50/p99/max of each, then every round's lag in microseconds.

use reqwest::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A round that B never reflects within this is reported as a failure.
const GIVE_UP: Duration = Duration::from_secs(5);

struct Api {
    client: Client,
    tenant: String,
    key: String,
}

impl Api {
    async fn call(
        &self,
        base: &str,
        m: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .client
            .request(m, format!("{base}{path}"))
            .header("X-API-Key", key)
            .header("X-Tenant-ID", &self.tenant);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("request sent");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn summary(name: &str, mut lags: Vec<Duration>, polls: usize) {
    lags.sort();
    let q = |p: f64| lags[((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len()) - 1];
    println!(
        "{name}: rounds {} lag p50 {:.2} ms p99 {:.2} ms max {:.2} ms; stale {} in all",
        lags.len(),
        q(0.50).as_secs_f64() * 1e3,
        q(0.99).as_secs_f64() * 1e3,
        lags.last().unwrap().as_secs_f64() * 1e3,
        polls - lags.len(),
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (a, b) = (args[1].clone(), args[2].clone());
    let boot: Value =
        serde_json::from_str(&std::fs::read_to_string(&args[3]).expect("bootstrap file"))
            .expect("bootstrap JSON");
    let rounds: usize = args.get(4).map_or(1000, |r| r.parse().expect("rounds"));
    let api = Api {
        client: Client::new(),
        tenant: boot["tenant_id"].as_str().unwrap().to_string(),
        key: boot["api_key"].as_str().unwrap().to_string(),
    };
    use reqwest::Method;
    let admin = api.key.clone();
    let (s, v) = api
        .call(
            &a,
            Method::PUT,
            "/v1/entities",
            &admin,
            Some(json!([
            {"uid": {"type": "User", "id": "coherence"}, "attrs": {}, "parents": []},
            {"uid": {"type": "App", "id": "coherence"}, "attrs": {}, "parents": []}])),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = api
        .call(
            &a,
            Method::POST,
            "/v1/policies",
            &admin,
            Some(json!({
            "key": "coherence", "name": "coherence", "max_duration_seconds": 3600,
            "rules": [{"effect": "permit", "principal_scope_type": "eq",
                "principal_entity_type": "User", "principal_entity_id": "coherence",
                "action_scope_type": "in", "action_ids": ["request"],
                "resource_scope_type": "eq", "resource_entity_type": "App",
                "resource_entity_id": "coherence"}]})),
        )
        .await;
    assert!(s == 201 || s == 409, "{v}");
    let decide = json!({"principal": {"type": "User", "id": "coherence"},
        "action": {"type": "Action", "id": "request"},
        "resource": {"type": "App", "id": "coherence"},
        "context": {"scopes": [], "reason": "coherence", "extension_count": 0}});

    let mut enabled = true;
    let (_, v) = api
        .call(
            &a,
            Method::PATCH,
            "/v1/policies/coherence",
            &admin,
            Some(json!({"enabled": true})),
        )
        .await;
    assert!(v["enabled"] == true, "{v}");
    let (mut lags, mut polls, mut poll_time) = (Vec::new(), 0usize, Duration::ZERO);
    for round in 0..rounds {
        enabled = !enabled;
        let (s, v) = api
            .call(
                &a,
                Method::PATCH,
                "/v1/policies/coherence",
                &admin,
                Some(json!({"enabled": enabled})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let written = Instant::now();
        let want = if enabled { "allow" } else { "deny" };
        loop {
            let sent = Instant::now();
            let (s, v) = api
                .call(
                    &b,
                    Method::POST,
                    "/v1/authorize",
                    &admin,
                    Some(decide.clone()),
                )
                .await;
            polls += 1;
            poll_time += sent.elapsed();
            assert_eq!(s, 200, "{v}");
            if v["decision"] == want {
                lags.push(sent - written);
                break;
            }
            assert!(
                written.elapsed() < GIVE_UP,
                "round {round}: B still decides on the old set"
            );
        }
    }
    let policy_polls = polls;
    let policy_lags = lags.clone();

    let (mut key_lags, mut key_polls) = (Vec::new(), 0usize);
    for round in 0..rounds {
        let (s, v) = api
            .call(
                &a,
                Method::POST,
                "/v1/keys",
                &admin,
                Some(json!({"role": "auditor"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (key, id) = (
            v["key"].as_str().unwrap().to_string(),
            v["id"].as_str().unwrap().to_string(),
        );
        let (s, v) = api
            .call(&b, Method::GET, "/v1/audit-events?per_page=1", &key, None)
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = api
            .call(&a, Method::DELETE, &format!("/v1/keys/{id}"), &admin, None)
            .await;
        assert_eq!(s, 204, "{v}");
        let revoked = Instant::now();
        loop {
            let sent = Instant::now();
            let (s, _) = api
                .call(&b, Method::GET, "/v1/audit-events?per_page=1", &key, None)
                .await;
            key_polls += 1;
            if s == 401 {
                key_lags.push(sent - revoked);
                break;
            }
            assert!(
                revoked.elapsed() < GIVE_UP,
                "round {round}: B still accepts the revoked key"
            );
        }
    }
    println!(
        "lag: from A's answer to the sending of B's first request that enforces the write \
         (0: B's next request already did); stale: B requests after A's answer that did not"
    );
    println!(
        "poll: one B decision takes {:.2} ms on average",
        poll_time.as_secs_f64() * 1e3 / policy_polls as f64
    );
    summary(
        "policy change (A PATCH -> B decides on it)",
        policy_lags.clone(),
        policy_polls,
    );
    summary(
        "key revocation (A DELETE -> B refuses the key)",
        key_lags.clone(),
        key_polls,
    );
    println!(
        "raw policy lags (us): {}",
        policy_lags
            .iter()
            .map(|d| d.as_micros().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "raw key lags (us): {}",
        key_lags
            .iter()
            .map(|d| d.as_micros().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
}
