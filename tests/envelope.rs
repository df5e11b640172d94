//! Every error the server can return has the contract's envelope and status.

mod common;

use common::TestServer;
use reqwest::Method;

async fn post_raw(
    s: &TestServer,
    t: &common::Tenant,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> common::Resp {
    let mut req = s
        .client
        .post(format!("{}/v1/keys", s.base))
        .header("X-API-Key", &t.admin_key)
        .header("X-Tenant-ID", &t.id)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    TestServer::read(req.send().await.unwrap()).await
}

backends! {
    #[tokio::test]
    async fn body_errors_map_to_400_415_413() {
        let s = TestServer::start_with(|c| c.body_limit_bytes = 2048).await;
        let t = s.tenant().await;
        let json = Some("application/json");

        // malformed JSON
        post_raw(&s, &t, json, "{\"role\": ")
            .await
            .assert_error(400, "invalid_input");
        post_raw(&s, &t, json, "")
            .await
            .assert_error(400, "invalid_input");
        // wrong types: 400, not 422
        post_raw(&s, &t, json, r#"{"role": 7}"#)
            .await
            .assert_error(400, "invalid_input");
        post_raw(&s, &t, json, r#"[1,2]"#)
            .await
            .assert_error(400, "invalid_input");
        // missing field
        post_raw(&s, &t, json, r#"{}"#)
            .await
            .assert_error(400, "invalid_input");
        // unknown field, named in the message
        let r = post_raw(&s, &t, json, r#"{"role": "admin", "rol": "x"}"#).await;
        r.assert_error(400, "invalid_input");
        assert!(r.body["message"].as_str().unwrap().contains("rol"));
        // charset parameters are fine
        let ok = post_raw(
            &s,
            &t,
            Some("application/json; charset=utf-8"),
            r#"{"role": "auditor"}"#,
        )
        .await;
        assert_eq!(ok.status, 201, "{}", ok.text);
        // not JSON
        post_raw(&s, &t, Some("text/plain"), r#"{"role": "admin"}"#)
            .await
            .assert_error(415, "unsupported_media_type");
        post_raw(&s, &t, None, r#"{"role": "admin"}"#)
            .await
            .assert_error(415, "unsupported_media_type");
        // over the limit
        let big = format!(r#"{{"role": "admin", "name": "{}"}}"#, "x".repeat(4096));
        post_raw(&s, &t, json, big)
            .await
            .assert_error(413, "payload_too_large");
        // nothing of the above created a key
        let keys = s.admin_get(&t, "/v1/keys").await;
        assert_eq!(keys.body["items"].as_array().unwrap().len(), 2);
    }
}

// SQLite only: the body limit is the HTTP layer's, whatever the database (kept off
// PostgreSQL to keep the suite fast).
#[tokio::test]
async fn default_body_limit_is_one_mebibyte() {
    let s = TestServer::start().await;
    let t = s.tenant().await;
    let just_over = format!(
        r#"{{"role": "admin", "name": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    post_raw(&s, &t, Some("application/json"), just_over)
        .await
        .assert_error(413, "payload_too_large");
    // under the limit it reaches validation (the name is too long for a key name)
    let under = format!(r#"{{"role": "admin", "name": "{}"}}"#, "x".repeat(1000));
    post_raw(&s, &t, Some("application/json"), under)
        .await
        .assert_error(400, "invalid_input");
}

backends! {
    #[tokio::test]
    async fn routing_errors_have_the_envelope() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        s.call(Method::GET, "/nope", None, None, None)
            .await
            .assert_error(404, "not_found");
        s.call(
            Method::GET,
            "/v1/nope",
            Some(&t.admin_key),
            Some(&t.id),
            None,
        )
        .await
        .assert_error(404, "not_found");
        let r = s
            .call(
                Method::PUT,
                "/v1/keys",
                Some(&t.admin_key),
                Some(&t.id),
                None,
            )
            .await;
        r.assert_error(405, "method_not_allowed");
        assert!(r.headers.get("allow").is_some());
        s.call(Method::POST, "/healthz", None, None, None)
            .await
            .assert_error(405, "method_not_allowed");
        // a path that is not valid UTF-8 once decoded
        let r = TestServer::read(
            s.client
                .delete(format!("{}/v1/keys/%FF%FE", s.base))
                .header("X-API-Key", &t.admin_key)
                .header("X-Tenant-ID", &t.id)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(r.status.is_client_error(), "{}", r.text);
        assert!(r.body["code"].is_string(), "{}", r.text);
    }

    #[tokio::test]
    async fn unreachable_database_is_503_and_reveals_nothing() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        assert_eq!(
            s.call(Method::GET, "/readyz", None, None, None)
                .await
                .status,
            200
        );
        s.state.services.store.close().await;
        let r = s.call(Method::GET, "/readyz", None, None, None).await;
        r.assert_error(503, "unavailable");
        let r = s.admin_get(&t, "/v1/keys").await;
        r.assert_error(503, "unavailable");
        let msg = r.body["message"].as_str().unwrap();
        assert!(
            !msg.contains("sqlite")
                && !msg.contains("postgres")
                && !msg.contains("pool")
                && !msg.contains('/'),
            "{msg}"
        );
        // liveness does not depend on the database
        assert_eq!(
            s.call(Method::GET, "/healthz", None, None, None)
                .await
                .status,
            200
        );
    }
}
