//! Operations endpoints and bootstrap.

mod common;

use common::TestServer;
use reqwest::Method;

backends! {
    #[tokio::test]
    async fn health_readiness_and_request_ids() {
        let s = TestServer::start().await;
        let r = s.call(Method::GET, "/healthz", None, None, None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["status"], "ok");
        let id = r.headers["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a generated UUID: {id}");
        assert_eq!(
            s.call(Method::GET, "/readyz", None, None, None)
                .await
                .status,
            200
        );
        // errors carry a request id too
        let r = s.call(Method::GET, "/v1/keys", None, None, None).await;
        assert!(r.headers.contains_key("x-request-id"));
    }

    #[tokio::test]
    async fn metrics_count_requests_by_route_and_status() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        for _ in 0..3 {
            s.admin_get(&t, "/v1/keys").await;
        }
        s.call(Method::GET, "/v1/keys", None, Some(&t.id), None)
            .await;
        // An audited decision, so the audit writer records a batch.
        let decided = common::send(
            &s,
            &t.admin_key,
            &t,
            Method::POST,
            "/v1/authorize",
            Some(serde_json::json!({
                "principal": {"type": "User", "id": "u"}, "action": {"type": "Action", "id": "request"},
                "resource": {"type": "App", "id": "a"},
                "context": {"scopes": ["read"], "reason": "r", "extension_count": 0}})),
        )
        .await;
        assert_eq!(decided.status, 200, "{}", decided.text);
        let r = s
            .client
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let text = r.text().await.unwrap();
        let line = |status: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with("grantd_http_requests_total{")
                        && l.contains("route=\"/v1/keys\"")
                        && l.contains("method=\"GET\"")
                        && l.contains(&format!("status=\"{status}\""))
                })
                .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        };
        // The recorder is process-wide (other tests in this binary add to it): at least ours.
        assert!(line("200").unwrap() >= 3.0, "{text}");
        assert!(line("401").unwrap() >= 1.0, "{text}");
        assert!(
            text.contains("grantd_http_request_duration_seconds_bucket{"),
            "{text}"
        );
        // Batch sizes are counted in events, in buckets of events (not of seconds).
        let bucket = |le: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!("grantd_audit_batch_events_bucket{{le=\"{le}\"}}"))
                })
                .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        };
        assert!(bucket("1024").is_some_and(|n| n >= 1.0), "{text}");
        assert_eq!(bucket("0.0001"), None, "{text}");
        // A decision's phases: its evaluation (in microsecond buckets), its event's wait for
        // a group commit, and the commit.
        let count = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{name}_count")))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        };
        for phase in [
            "grantd_decision_evaluation_seconds",
            "grantd_audit_queue_seconds",
            "grantd_audit_commit_seconds",
        ] {
            assert!(count(phase).is_some_and(|n| n >= 1.0), "{phase}: {text}");
        }
        assert!(
            text.contains("grantd_decision_evaluation_seconds_bucket{le=\"0.000005\"}"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn bootstrap_happens_once_and_writes_a_private_file() {
        let s = TestServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let app = grantd::App::open(
            grantd::config::Config::new(s.db_url.clone(), common::policies_dir()),
            s.clock.clone(),
        )
        .await
        .unwrap();
        let path = app
            .bootstrap_if_empty(dir.path())
            .await
            .unwrap()
            .expect("bootstrapped");
        let boot: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(boot["api_key"].as_str().unwrap().starts_with("gd_"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(app.bootstrap_if_empty(dir.path()).await.unwrap().is_none());
        // the bootstrap key works against the server on the same database
        let t = common::Tenant {
            id: boot["tenant_id"].as_str().unwrap().into(),
            admin_key: boot["api_key"].as_str().unwrap().into(),
        };
        assert_eq!(s.admin_get(&t, "/v1/keys").await.status, 200);
    }
}
