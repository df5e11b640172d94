//! Several grantd instances on one database, as behind a load balancer: caches that hear
//! each other's writes, consistency tokens, background work done once, idempotency keys
//! honoured across instances. Instances here are in-process `App`s on one database (each
//! with its own caches, writers and background tasks); `tests/rolling.rs` runs them as
//! processes.

mod common;

use common::{send, Backend, Tenant, TestServer};
use grantd::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// A change poll so slow that it never explains what a test sees.
const NEVER: Duration = Duration::from_secs(3600);

fn authorize_body(min: Option<i64>) -> Value {
    let mut b = json!({"principal": {"type": "User", "id": "u0"},
        "action": {"type": "Action", "id": "request"},
        "resource": {"type": "App", "id": "github"},
        "context": {"scopes": [], "reason": "x", "extension_count": 0}});
    if let Some(v) = min {
        b["min_policy_set_version"] = json!(v);
    }
    b
}

async fn decision(s: &TestServer, t: &Tenant, min: Option<i64>) -> common::Resp {
    let r = send(
        s,
        &t.admin_key,
        t,
        Method::POST,
        "/v1/authorize",
        Some(authorize_body(min)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

/// The `X-Policy-Set-Version` of a write's answer.
fn token(r: &common::Resp) -> i64 {
    r.headers
        .get("x-policy-set-version")
        .unwrap_or_else(|| panic!("no X-Policy-Set-Version: {:?} {}", r.headers, r.text))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Polls `check` every 5 ms until it holds; panics after 10 s.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    within(Duration::from_secs(10), what, check).await
}

/// Polls `check` every 5 ms until it holds; panics after `limit`.
async fn within<F: std::future::Future<Output = bool>>(
    limit: Duration,
    what: &str,
    check: impl Fn() -> F,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// PostgreSQL only: the notifications are what this shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_hears_policy_changes_and_key_revocations_at_commit() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    Backend::Postgres
        .scope(async {
            let a = TestServer::start_with(|c| c.change_poll_interval = NEVER).await;
            let b = a.instance(|c| c.change_poll_interval = NEVER).await;
            let t = a.tenant().await;
            common::seed_permit_all(&a, &t, 1).await;
            // B compiles and caches the set
            assert_eq!(decision(&b, &t, None).await.body["decision"], "allow");
            let r = send(
                &a,
                &t.admin_key,
                &t,
                Method::PATCH,
                "/v1/policies/all",
                Some(json!({"enabled": false})),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            let v = token(&r);
            // B polls once an hour: only A's notification can make it drop its set
            eventually("B denies after A disabled the policy", || async {
                let r = decision(&b, &t, None).await;
                r.body["decision"] == "deny" && r.body["policy_set_version"] == v
            })
            .await;

            // a key B has cached, revoked on A
            let r = send(
                &a,
                &t.admin_key,
                &t,
                Method::POST,
                "/v1/keys",
                Some(json!({"role": "admin"})),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
            let (key, id) = (
                r.body["key"].as_str().unwrap().to_string(),
                r.body["id"].clone(),
            );
            let id = id.as_str().unwrap();
            let list = |s: &TestServer| {
                let (key, tenant) = (key.clone(), t.id.clone());
                let (client, base) = (s.client.clone(), s.base.clone());
                async move {
                    client
                        .get(format!("{base}/v1/keys"))
                        .header("X-API-Key", key)
                        .header("X-Tenant-ID", tenant)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            };
            assert_eq!(list(&b).await, 200);
            let r = send(
                &a,
                &t.admin_key,
                &t,
                Method::DELETE,
                &format!("/v1/keys/{id}"),
                None,
            )
            .await;
            assert_eq!(r.status, 204, "{}", r.text);
            assert!(token(&r) >= v);
            eventually("B refuses the key A revoked", || async {
                list(&b).await == 401
            })
            .await;
            // the listener's metrics are there (their values are process-wide, shared by
            // every in-process instance of this test binary, so only presence is checked)
            let m = b.call(Method::GET, "/metrics", None, None, None).await;
            assert!(m.text.contains("grantd_change_listener_up"), "{}", m.text);
            assert!(
                m.text.contains("grantd_change_listener_connects_total"),
                "{}",
                m.text
            );
        })
        .await
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_consistency_token_reads_your_writes_on_another_instance() {
        let a = TestServer::start_with(|c| c.change_poll_interval = NEVER).await;
        let b = a.instance(|c| c.change_poll_interval = NEVER).await;
        let t = a.tenant().await;
        common::seed_permit_all(&a, &t, 1).await;
        // B may have cached a set from before the seed's last write (its re-evaluator loads
        // sets too) and hear of that write a moment later: warm it on the seeded set
        eventually("B decides on the seeded set", || async {
            decision(&b, &t, None).await.body["decision"] == "allow"
        })
        .await;
        let warm = decision(&b, &t, None).await;
        assert_eq!(warm.body["decision"], "allow");
        let before = warm.body["policy_set_version"].as_i64().unwrap();

        let r = send(&a, &t.admin_key, &t, Method::PATCH, "/v1/policies/all",
            Some(json!({"enabled": false}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = token(&r);
        assert_eq!(r.body["policy_set_version"], v, "{}", r.text);
        assert!(v > before, "{v} > {before}");
        if a.backend == Backend::Sqlite {
            // SQLite has no notifications: without the token, B decides on what it cached
            assert_eq!(decision(&b, &t, None).await.body["decision"], "allow");
        }
        // with it, B decides on that version at once, in the body or in the header
        let r = decision(&b, &t, Some(v)).await;
        assert_eq!(r.body["decision"], "deny", "{}", r.text);
        assert_eq!(r.body["policy_set_version"], v, "{}", r.text);
        let r = send(&a, &t.admin_key, &t, Method::PATCH, "/v1/policies/all",
            Some(json!({"enabled": true}))).await;
        let v2 = token(&r);
        assert!(v2 > v);
        let grant = json!({"principal": {"type": "User", "id": "u0"},
            "resource": {"type": "App", "id": "github"}, "reason": "x", "duration_seconds": 60});
        let r = b.client.post(format!("{}/v1/grants", b.base))
            .header("X-API-Key", &t.admin_key).header("X-Tenant-ID", &t.id)
            .header("X-Min-Policy-Set-Version", v2.to_string())
            .json(&grant).send().await.unwrap();
        let r = TestServer::read(r).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let grant_id = r.body["id"].as_str().unwrap().to_string();
        let check = json!({"principal": {"type": "User", "id": "u0"},
            "resource": {"type": "App", "id": "github"}, "min_policy_set_version": v2});
        let r = send(&b, &t.admin_key, &t, Method::POST, "/v1/access/check", Some(check)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["allowed"], true, "{}", r.text);
        let r = send(&b, &t.admin_key, &t, Method::POST, "/v1/authorize/batch",
            Some(json!({"requests": [authorize_body(None)], "min_policy_set_version": v2}))).await;
        assert_eq!(r.body["results"][0]["policy_set_version"], v2, "{}", r.text);

        // a version the tenant has not reached: 503 stale (after a bounded wait)
        let r = b.client.post(format!("{}/v1/authorize", b.base))
            .header("X-API-Key", &t.admin_key).header("X-Tenant-ID", &t.id)
            .json(&authorize_body(Some(v2 + 1000))).send().await.unwrap();
        let r = TestServer::read(r).await;
        r.assert_error(503, "stale");
        assert!(r.headers.get("retry-after").is_some(), "{:?}", r.headers);
        // malformed tokens are the caller's mistake
        for bad in ["x", "-1", "1.5", "", "+5", "99999999999999999999"] {
            let r = b.client.post(format!("{}/v1/authorize", b.base))
                .header("X-API-Key", &t.admin_key).header("X-Tenant-ID", &t.id)
                .header("X-Min-Policy-Set-Version", bad)
                .json(&authorize_body(None)).send().await.unwrap();
            TestServer::read(r).await.assert_error(400, "invalid_input");
        }
        // sent twice: every value must be a token, and the largest counts
        let twice = |first: String, second: &str| {
            b.client.post(format!("{}/v1/authorize", b.base))
                .header("X-API-Key", &t.admin_key).header("X-Tenant-ID", &t.id)
                .header("X-Min-Policy-Set-Version", first)
                .header("X-Min-Policy-Set-Version", second)
                .json(&authorize_body(None)).send()
        };
        let r = TestServer::read(twice(v2.to_string(), "abc").await.unwrap()).await;
        r.assert_error(400, "invalid_input");
        let r = TestServer::read(twice(v2.to_string(), &(v2 + 1000).to_string()).await.unwrap()).await;
        r.assert_error(503, "stale");
        let mut body = authorize_body(None);
        body["min_policy_set_version"] = json!(-1);
        send(&b, &t.admin_key, &t, Method::POST, "/v1/authorize", Some(body)).await
            .assert_error(400, "invalid_input");

        // the grant endpoints that decide again, extend and update (a scope change), on B:
        // the token in the body or in the header, a decision on that version or a 503
        let on_b = |m: Method, path: String, header: Option<i64>, body: Value| {
            let mut r = b.client.request(m, format!("{}{path}", b.base))
                .header("X-API-Key", &t.admin_key).header("X-Tenant-ID", &t.id);
            if let Some(v) = header {
                r = r.header("X-Min-Policy-Set-Version", v.to_string());
            }
            let r = r.json(&body).send();
            async move { TestServer::read(r.await.unwrap()).await }
        };
        let (extend, update) = (format!("/v1/grants/{grant_id}/extend"), format!("/v1/grants/{grant_id}"));
        // each extension asks for more than the last, so none would shorten the grant
        let mut secs = 60;
        let mut longer = |min: Option<i64>| {
            secs += 60;
            let mut body = json!({"duration_seconds": secs});
            if let Some(v) = min {
                body["min_policy_set_version"] = json!(v);
            }
            body
        };
        let rescope = |scope: &str, min: Option<i64>| {
            let mut body = json!({"scopes": [scope]});
            if let Some(v) = min {
                body["min_policy_set_version"] = json!(v);
            }
            body
        };
        let r = send(&a, &t.admin_key, &t, Method::PATCH, "/v1/policies/all",
            Some(json!({"enabled": false}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v3 = token(&r);
        assert!(v3 > v2);
        let r = on_b(Method::POST, extend.clone(), None, longer(Some(v3))).await;
        r.assert_error(403, "access_denied");
        let r = on_b(Method::POST, extend.clone(), Some(v3), longer(None)).await;
        r.assert_error(403, "access_denied");
        let r = on_b(Method::PUT, update.clone(), Some(v3), rescope("read", None)).await;
        r.assert_error(403, "access_denied");
        let r = on_b(Method::PUT, update.clone(), None, rescope("read", Some(v3))).await;
        r.assert_error(403, "access_denied");
        let r = send(&a, &t.admin_key, &t, Method::PATCH, "/v1/policies/all",
            Some(json!({"enabled": true}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v4 = token(&r);
        assert!(v4 > v3);
        let r = on_b(Method::POST, extend.clone(), Some(v4), longer(None)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = on_b(Method::POST, extend.clone(), None, longer(Some(v4))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = on_b(Method::PUT, update.clone(), None, rescope("read", Some(v4))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["scopes"], json!(["read"]), "{}", r.text);
        let r = on_b(Method::PUT, update.clone(), Some(v4), rescope("write", None)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["scopes"], json!(["write"]), "{}", r.text);
        // a version the tenant has not reached, in either place: 503 stale, nothing changed.
        // (The decisions above would come out the same on B without the token when the
        // re-evaluation of the grant that follows each policy write runs on B: it loads the
        // newest set there. This is what shows that extend and update honour the token.)
        let before = a.admin_get(&t, &update).await;
        let before = (before.body["expires_at"].clone(), before.body["scopes"].clone());
        assert_eq!(before.1, json!(["write"]));
        for (m, path, header, body) in [
            (Method::POST, &extend, None, longer(Some(v4 + 1000))),
            (Method::POST, &extend, Some(v4 + 1000), longer(None)),
            (Method::PUT, &update, None, rescope("read", Some(v4 + 1000))),
            (Method::PUT, &update, Some(v4 + 1000), rescope("read", None)),
        ] {
            let r = on_b(m.clone(), path.clone(), header, body).await;
            r.assert_error(503, "stale");
            assert!(r.headers.get("retry-after").is_some(), "{m} {path}: {:?}", r.headers);
        }
        let after = a.admin_get(&t, &update).await;
        assert_eq!((after.body["expires_at"].clone(), after.body["scopes"].clone()), before);

        // every configuration and key write answers the token, each at least the last
        let mut last = v4;
        let schema = a.admin_get(&t, "/v1/schema").await.body["cedarschema"].clone();
        let writes: Vec<(Method, String, Option<Value>, u16)> = vec![
            (Method::PUT, "/v1/schema".into(), Some(json!({"cedarschema": schema})), 200),
            (Method::PUT, "/v1/entities".into(),
                Some(json!([{"uid": {"type": "User", "id": "u9"}, "attrs": {}, "parents": []}])), 200),
            (Method::DELETE, "/v1/entities/User/u9".into(), None, 204),
            (Method::POST, "/v1/policies".into(), Some(json!({"key": "other", "name": "other", "max_duration_seconds": 60,
                "rules": [{"effect": "permit", "principal_scope_type": "any",
                "action_scope_type": "any", "resource_scope_type": "any"}]})), 201),
            (Method::DELETE, "/v1/policies/other".into(), None, 204),
            (Method::POST, "/v1/keys".into(), Some(json!({"role": "auditor"})), 201),
        ];
        for (m, path, body, status) in writes {
            let r = send(&a, &t.admin_key, &t, m.clone(), &path, body).await;
            assert_eq!(r.status, status, "{m} {path}: {}", r.text);
            let v = token(&r);
            assert!(v >= last, "{m} {path}: {v} after {last}");
            if r.body.is_object() {
                assert_eq!(r.body["policy_set_version"], v, "{m} {path}: {}", r.text);
            }
            if path == "/v1/keys" {
                // keys are not part of the policy set: the version stays, and so on revoke
                assert_eq!(v, last);
                let r = send(&a, &t.admin_key, &t, Method::DELETE,
                    &format!("/v1/keys/{}", r.body["id"].as_str().unwrap()), None).await;
                assert_eq!(r.status, 204, "{}", r.text);
                assert_eq!(token(&r), last);
            } else {
                assert!(v > last, "{m} {path} moved the version: {v} after {last}");
            }
            last = v;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_grants_get_one_event_however_many_instances_sweep() {
        let fast = |c: &mut grantd::config::Config| c.sweep_interval = Duration::from_millis(10);
        let a = TestServer::start_with(fast).await;
        let b = a.instance(fast).await;
        let c = a.instance(fast).await;
        let t = a.tenant().await;
        const N: usize = 40;
        common::seed_permit_all(&a, &t, N).await;
        for (i, s) in [&a, &b, &c].iter().cycle().take(N).enumerate() {
            let r = send(s, &t.admin_key, &t, Method::POST, "/v1/grants",
                Some(json!({"principal": {"type": "User", "id": format!("u{i}")},
                    "resource": {"type": "App", "id": "github"}, "reason": "x",
                    "duration_seconds": 60}))).await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        a.clock.advance(chrono::Duration::seconds(61));
        let db = a.db().await;
        eventually("every grant is stored as EXPIRED", || async {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE status = 'EXPIRED'")
                .fetch_one(&db).await.unwrap();
            n == N as i64
        })
        .await;
        // a few more sweeps of every instance
        tokio::time::sleep(Duration::from_millis(100)).await;
        let expired: Vec<String> = a.events(&t.id).await.into_iter()
            .filter(|(k, _)| k == "grant.expire")
            .map(|(_, b)| b["subject"]["id"].as_str().unwrap_or_default().to_string())
            .collect();
        let distinct: std::collections::HashSet<&String> = expired.iter().collect();
        assert_eq!(expired.len(), N, "{expired:?}");
        assert_eq!(distinct.len(), N, "{expired:?}");
        let r = a.admin_get(&t, "/v1/audit-events/verify").await;
        assert_eq!(r.body["ok"], true, "{}", r.text);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_idempotency_key_sent_to_two_instances_at_once_makes_one_grant() {
        let a = TestServer::start().await;
        let b = a.instance(|_| {}).await;
        let t = a.tenant().await;
        const KEYS: usize = 12;
        common::seed_permit_all(&a, &t, KEYS).await;
        // B may hear of the seed's last write a moment later (and deny until then, which
        // is coherence, not idempotency): both decide on the seeded set first
        eventually("B decides on the seeded set", || async {
            decision(&b, &t, None).await.body["decision"] == "allow"
        })
        .await;
        let request = |s: &TestServer, i: usize| {
            let r = s.client.post(format!("{}/v1/grants", s.base))
                .header("X-API-Key", &t.admin_key).header("X-Tenant-ID", &t.id)
                .header("Idempotency-Key", format!("key-{i}"))
                .json(&json!({"principal": {"type": "User", "id": format!("u{i}")},
                    "resource": {"type": "App", "id": "github"}, "reason": "x",
                    "duration_seconds": 600}))
                .send();
            async move { TestServer::read(r.await.unwrap()).await }
        };
        for i in 0..KEYS {
            let (x, y) = tokio::join!(request(&a, i), request(&b, i));
            assert_eq!(x.status, 201, "{}", x.text);
            assert_eq!(y.status, 201, "{}", y.text);
            assert_eq!(x.body["id"], y.body["id"], "key-{i}: {} / {}", x.text, y.text);
        }
        let r = send(&a, &t.admin_key, &t, Method::POST, "/v1/grants/list", Some(json!([]))).await;
        assert_eq!(r.body["total"], KEYS, "{}", r.text);
        let r = a.admin_get(&t, "/v1/audit-events?kind=grant.request&per_page=100").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), KEYS, "{}", r.text);
    }
}

/// An instance that sweeps every 10 ms, with a tenant seeded for users `u0`..`u{users}`.
async fn sweeping(users: usize) -> (TestServer, Tenant) {
    let a = TestServer::start_with(|c| c.sweep_interval = Duration::from_millis(10)).await;
    let t = a.tenant().await;
    common::seed_permit_all(&a, &t, users).await;
    (a, t)
}

/// A grant of `user` on App `github` for `seconds`; its id.
async fn grant_for(s: &TestServer, t: &Tenant, user: &str, seconds: i64) -> String {
    let r = send(
        s,
        &t.admin_key,
        t,
        Method::POST,
        "/v1/grants",
        Some(json!({"principal": {"type": "User", "id": user},
            "resource": {"type": "App", "id": "github"}, "reason": "x",
            "duration_seconds": seconds})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

/// PostgreSQL only: while another process holds the sweeper's lock, no instance sweeps; once
/// it is released, one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_runs_on_one_process_at_a_time() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    Backend::Postgres
        .scope(async {
            let (a, t) = sweeping(1).await;
            grant_for(&a, &t, "u0", 60).await;
            use sqlx::Connection;
            let mut other = sqlx::PgConnection::connect(&a.db_url).await.unwrap();
            // the key grantd's sweeper takes (class "grnt", job 1)
            sqlx::query("SELECT pg_advisory_lock(1735552628, 1)")
                .execute(&mut other)
                .await
                .unwrap();
            a.clock.advance(chrono::Duration::seconds(61));
            let stored = |db: sqlx::AnyPool| async move {
                let s: String = sqlx::query_scalar("SELECT status FROM grants")
                    .fetch_one(&db)
                    .await
                    .unwrap();
                db.close().await;
                s
            };
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(stored(a.db().await).await, "GRANTED");
            sqlx::query("SELECT pg_advisory_unlock(1735552628, 1)")
                .execute(&mut other)
                .await
                .unwrap();
            let db = a.db().await;
            eventually("the grant is swept once the lock is free", || {
                let db = db.clone();
                async move {
                    let s: String = sqlx::query_scalar("SELECT status FROM grants")
                        .fetch_one(&db)
                        .await
                        .unwrap();
                    s == "EXPIRED"
                }
            })
            .await;
        })
        .await
}

/// The first key of grantd's advisory locks (class "grnt"); the second is the job: 1 the
/// sweeper, 2 audit retention.
const JOB_LOCK_CLASS: i32 = 1735552628;

/// PostgreSQL only: while another process holds audit retention's lock, no instance prunes
/// (not one starting, whose first background pass prunes, nor one asked to); once it is
/// released, one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_retention_runs_on_one_process_at_a_time() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    Backend::Postgres
        .scope(async {
            let a = TestServer::start().await;
            let t = a.tenant().await;
            // the tenant's creation and five keys, then forty days, then one more key
            for _ in 0..5 {
                a.key(&t, "auditor").await;
            }
            a.clock.advance(chrono::Duration::days(40));
            a.key(&t, "auditor").await;
            let count = || async { a.events(&t.id).await.len() };
            assert_eq!(count().await, 7);
            use sqlx::Connection;
            let mut other = sqlx::PgConnection::connect(&a.db_url).await.unwrap();
            sqlx::query("SELECT pg_advisory_lock($1, 2)")
                .bind(JOB_LOCK_CLASS)
                .execute(&mut other)
                .await
                .unwrap();
            let retaining = |c: &mut grantd::config::Config| c.audit_retention_days = Some(30);
            let b = a.instance(retaining).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(
                count().await,
                7,
                "an instance pruned while the lock was held"
            );
            for s in [&a, &b] {
                let pruned = grantd::audit::prune(&s.state.services.store, s.clock.now(), 30)
                    .await
                    .unwrap();
                assert_eq!(pruned, 0);
            }
            assert_eq!(
                count().await,
                7,
                "an instance pruned while the lock was held"
            );
            sqlx::query("SELECT pg_advisory_unlock($1, 2)")
                .bind(JOB_LOCK_CLASS)
                .execute(&mut other)
                .await
                .unwrap();
            // an instance starting now prunes in its first pass
            let _c = a.instance(retaining).await;
            eventually(
                "the old events are pruned once the lock is free",
                || async { count().await == 1 },
            )
            .await;
            let pruned = grantd::audit::prune(&a.state.services.store, a.clock.now(), 30)
                .await
                .unwrap();
            assert_eq!(pruned, 0, "nothing is left to prune");
            let r = a.admin_get(&t, "/v1/audit-events/verify").await;
            assert_eq!(r.body["ok"], true, "{}", r.text);
            assert_eq!(r.body["events"], 1, "{}", r.text);
        })
        .await
}

/// The server process ids of the connections of this database listening for changes.
async fn listeners(conn: &mut sqlx::PgConnection) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND query LIKE 'LISTEN %' ORDER BY pid",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Enables or disables policy `all` on `s`: the consistency token of the write.
async fn enable_all(s: &TestServer, t: &Tenant, enabled: bool) -> i64 {
    let r = send(
        s,
        &t.admin_key,
        t,
        Method::PATCH,
        "/v1/policies/all",
        Some(json!({"enabled": enabled})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    token(&r)
}

/// A new admin key of `t`, made on `s`: the key and its id.
async fn new_key(s: &TestServer, t: &Tenant) -> (String, String) {
    let r = send(
        s,
        &t.admin_key,
        t,
        Method::POST,
        "/v1/keys",
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (
        r.body["key"].as_str().unwrap().into(),
        r.body["id"].as_str().unwrap().into(),
    )
}

/// Revokes key `id` of `t` on `s`.
async fn revoke(s: &TestServer, t: &Tenant, id: &str) {
    let r = send(
        s,
        &t.admin_key,
        t,
        Method::DELETE,
        &format!("/v1/keys/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

/// The status of `GET /v1/keys` on `s` with `key`.
async fn keys_status(s: &TestServer, t: &Tenant, key: &str) -> u16 {
    s.call(Method::GET, "/v1/keys", Some(key), Some(&t.id), None)
        .await
        .status
        .as_u16()
}

/// The server process ids of this database's connections other than `conn`'s.
async fn connections(conn: &mut sqlx::PgConnection) -> std::collections::BTreeSet<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid()",
    )
    .fetch_all(conn)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// PostgreSQL only: B loses its connections, its listening one among them, and a write on A
/// commits while B cannot connect, so B never gets its notification. Once B can connect
/// again, its listener comes back and, because it reconnected, B runs its change poll (once
/// an hour here otherwise) and catches up; later writes are heard again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_lost_its_connection_catches_up_and_listens_again() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    Backend::Postgres
        .scope(async {
            use sqlx::Connection;
            let a = TestServer::start_with(|c| c.change_poll_interval = NEVER).await;
            let t = a.tenant().await;
            common::seed_permit_all(&a, &t, 1).await;
            let pg = tokio::sync::Mutex::new(sqlx::PgConnection::connect(&a.db_url).await.unwrap());
            eventually("A listens", || async {
                listeners(&mut *pg.lock().await).await.len() == 1
            })
            .await;
            assert_eq!(decision(&a, &t, None).await.body["decision"], "allow");
            // two keys: one revoked while B cannot hear it, one after
            let (missed_key, missed_id) = new_key(&a, &t).await;
            let (heard_key, heard_id) = new_key(&a, &t).await;
            // what A has open now serves its writes below; A is idle while B starts
            let of_a = connections(&mut *pg.lock().await).await;
            let b = a.instance(|c| c.change_poll_interval = NEVER).await;
            eventually("B listens", || async {
                listeners(&mut *pg.lock().await).await.len() == 2
            })
            .await;
            eventually("B decides on the seeded set", || async {
                decision(&b, &t, None).await.body["decision"] == "allow"
            })
            .await;
            // B caches both keys
            assert_eq!(keys_status(&b, &t, &missed_key).await, 200);
            assert_eq!(keys_status(&b, &t, &heard_key).await, 200);
            let of_b: Vec<i32> = connections(&mut *pg.lock().await)
                .await
                .difference(&of_a)
                .copied()
                .collect();
            let listening = listeners(&mut *pg.lock().await).await;
            assert!(
                of_b.iter().any(|p| listening.contains(p)),
                "B's listener is one of {of_b:?}"
            );

            // B cannot connect (nor can anyone else) while A writes
            let name: String = sqlx::query_scalar("SELECT current_database()")
                .fetch_one(&mut *pg.lock().await)
                .await
                .unwrap();
            // (PostgreSQL refuses that on a connection to the database itself: said on one
            // to the database GRANTD_TEST_POSTGRES_URL names)
            let admin = tokio::sync::Mutex::new(
                sqlx::PgConnection::connect(&common::postgres_url().unwrap())
                    .await
                    .unwrap(),
            );
            let connectable = |allowed: bool| {
                let sql = format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allowed}");
                let admin = &admin;
                async move {
                    sqlx::raw_sql(&sql)
                        .execute(&mut *admin.lock().await)
                        .await
                        .unwrap();
                }
            };
            connectable(false).await;
            for pid in &of_b {
                sqlx::query("SELECT pg_terminate_backend($1)")
                    .bind(pid)
                    .execute(&mut *pg.lock().await)
                    .await
                    .unwrap();
            }
            eventually("B's connections are gone", || async {
                connections(&mut *pg.lock().await)
                    .await
                    .is_disjoint(&of_b.iter().copied().collect())
            })
            .await;
            let v = enable_all(&a, &t, false).await;
            revoke(&a, &t, &missed_id).await;
            // nobody but A listened when those committed: B missed them
            let listening = listeners(&mut *pg.lock().await).await;
            assert!(listening.iter().all(|p| of_a.contains(p)), "{listening:?}");
            connectable(true).await;
            within(
                Duration::from_secs(3),
                "B denies after A disabled the policy",
                || async {
                    let r = decision(&b, &t, None).await;
                    r.body["decision"] == "deny" && r.body["policy_set_version"] == v
                },
            )
            .await;
            assert_eq!(
                keys_status(&b, &t, &missed_key).await,
                401,
                "B caught up on the revocation"
            );
            // the listener is back: a later revocation is heard (the poll runs once an hour,
            // and nothing else drops a cached key; the catch-up may have dropped them all, so
            // B caches this one again first)
            assert_eq!(keys_status(&b, &t, &heard_key).await, 200);
            revoke(&a, &t, &heard_id).await;
            within(
                Duration::from_secs(2),
                "B refuses the key A revoked",
                || async { keys_status(&b, &t, &heard_key).await == 401 },
            )
            .await;
            assert_eq!(
                listeners(&mut *pg.lock().await).await.len(),
                2,
                "B listens again"
            );
        })
        .await
}

/// PostgreSQL only: a sweep whose connection dies mid-transaction (as when its instance is
/// killed) leaves no grant half expired and no `grant.expire` event behind; a later sweep
/// does it all, one event per grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_killed_mid_transaction_leaves_nothing_half_done() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    Backend::Postgres
        .scope(async {
            use sqlx::Connection;
            const N: usize = 5;
            let (a, t) = sweeping(N).await;
            let mut ids = Vec::new();
            for i in 0..N {
                // the sweeper expires due grants in expiry order: the last one is the last
                ids.push(grant_for(&a, &t, &format!("u{i}"), 60 + 10 * i as i64).await);
            }
            // another connection holds the last grant's row: the sweep that expires the
            // others in its transaction waits there
            let mut holder = sqlx::PgConnection::connect(&a.db_url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
            sqlx::query("SELECT 1 FROM grants WHERE CAST(id AS TEXT) = $1 FOR UPDATE")
                .bind(&ids[N - 1])
                .execute(&mut holder)
                .await
                .unwrap();
            a.clock
                .advance(chrono::Duration::seconds(61 + 10 * N as i64));
            let pg = tokio::sync::Mutex::new(sqlx::PgConnection::connect(&a.db_url).await.unwrap());
            // the sweep waiting on the held row, with the sweeper's lock
            let waiting = || async {
                let pid: Option<i32> = sqlx::query_scalar(
                    "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid \
                     WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' \
                     AND a.query LIKE 'UPDATE grants SET status%' \
                     AND l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objid = 1 \
                     AND l.granted",
                )
                .bind(i64::from(JOB_LOCK_CLASS))
                .fetch_optional(&mut *pg.lock().await)
                .await
                .unwrap();
                pid
            };
            eventually("a sweep waits on the held grant", || async {
                waiting().await.is_some()
            })
            .await;
            let pid = waiting().await.unwrap();
            let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&mut *pg.lock().await)
                .await
                .unwrap();
            assert!(killed);
            // gone, and nothing of it stayed (the held row keeps any later sweep from
            // committing, so this is what the killed one left)
            eventually("the killed sweep's connection is gone", || async {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1")
                        .bind(pid)
                        .fetch_one(&mut *pg.lock().await)
                        .await
                        .unwrap();
                n == 0
            })
            .await;
            let counts = || async {
                let mut pg = pg.lock().await;
                let expired: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE status = 'EXPIRED'")
                        .fetch_one(&mut *pg)
                        .await
                        .unwrap();
                let events: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM audit_events WHERE kind = 'grant.expire'",
                )
                .fetch_one(&mut *pg)
                .await
                .unwrap();
                (expired, events)
            };
            assert_eq!(
                counts().await,
                (0, 0),
                "the killed sweep left expired grants or events"
            );
            sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
            eventually("a later sweep expires every grant", || async {
                counts().await.0 == N as i64
            })
            .await;
            // a few more sweeps
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut expired: Vec<String> = a
                .events(&t.id)
                .await
                .into_iter()
                .filter(|(k, _)| k == "grant.expire")
                .map(|(_, b)| b["subject"]["id"].as_str().unwrap_or_default().to_string())
                .collect();
            expired.sort();
            ids.sort();
            assert_eq!(expired, ids, "one grant.expire event per grant");
            let r = a.admin_get(&t, "/v1/audit-events/verify").await;
            assert_eq!(r.body["ok"], true, "{}", r.text);
        })
        .await
}

backends! {
    /// The drain period: not ready at once, still serving, and asking clients to go.
    #[tokio::test]
    async fn after_a_shutdown_signal_it_is_not_ready_but_still_serves_for_the_drain_period() {
        let mut s = TestServer::start_with(|c| c.shutdown_drain = Duration::from_secs(3)).await;
        let t = s.tenant().await;
        common::seed_permit_all(&s, &t, 1).await;
        let ready = s.call(Method::GET, "/readyz", None, None, None).await;
        assert_eq!(ready.status, 200, "{}", ready.text);
        assert!(ready.headers.get("connection").is_none_or(|v| v != "close"));
        s.stop();
        eventually("/readyz says not ready", || async {
            s.call(Method::GET, "/readyz", None, None, None).await.status == 503
        })
        .await;
        let r = s.call(Method::GET, "/readyz", None, None, None).await;
        r.assert_error(503, "unavailable");
        assert!(r.text.contains("shutting down"), "{}", r.text);
        // a fresh connection is still accepted and served, and told to close
        let fresh = reqwest::Client::new();
        let r = fresh.post(format!("{}/v1/authorize", s.base))
            .header("X-API-Key", &t.admin_key).header("X-Tenant-ID", &t.id)
            .json(&authorize_body(None)).send().await.unwrap();
        assert_eq!(r.headers().get("connection").map(|v| v.to_str().unwrap()), Some("close"));
        let r = TestServer::read(r).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["decision"], "allow");
    }
}
