//! Authentication and tenant walls, over HTTP.

mod common;

use common::TestServer;
use reqwest::Method;

const OTHER_TENANT: &str = "0190a5e0-0000-7000-8000-000000000001";

backends! {
    #[tokio::test]
    async fn every_auth_error_path_has_its_status_and_code() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let k = t.admin_key.as_str();

        // missing key
        s.call(Method::GET, "/v1/keys", None, Some(&t.id), None)
            .await
            .assert_error(401, "unauthenticated");
        // malformed key
        for bad in ["nope", "gd_", &k[..k.len() - 1], &format!("{k}x")] {
            s.call(Method::GET, "/v1/keys", Some(bad), Some(&t.id), None)
                .await
                .assert_error(401, "unauthenticated");
        }
        // a well-formed key nobody issued
        let unknown = grantd::domain::key::generate().plaintext;
        s.call(Method::GET, "/v1/keys", Some(&unknown), Some(&t.id), None)
            .await
            .assert_error(401, "unauthenticated");
        // a real key id with a wrong secret
        let forged = format!("{}{}", &k[..36], &unknown[36..]);
        s.call(Method::GET, "/v1/keys", Some(&forged), Some(&t.id), None)
            .await
            .assert_error(401, "unauthenticated");
        // missing and invalid tenant header
        s.call(Method::GET, "/v1/keys", Some(k), None, None)
            .await
            .assert_error(400, "invalid_input");
        s.call(Method::GET, "/v1/keys", Some(k), Some("tenant-1"), None)
            .await
            .assert_error(400, "invalid_input");
        // an unknown tenant id is a mismatch too
        s.call(Method::GET, "/v1/keys", Some(k), Some(OTHER_TENANT), None)
            .await
            .assert_error(403, "tenant_mismatch");
        // a role that may not call the route
        let auditor = s.key(&t, "auditor").await;
        s.call(Method::GET, "/v1/keys", Some(&auditor), Some(&t.id), None)
            .await
            .assert_error(403, "forbidden");
        // and the happy path
        let r = s
            .call(Method::GET, "/v1/keys", Some(k), Some(&t.id), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    #[tokio::test]
    async fn forbidden_role_learns_nothing_from_the_body() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let requester = s.key(&t, "requester").await;
        // The role is checked before the body is parsed.
        let r = s
            .call(
                Method::POST,
                "/v1/keys",
                Some(&requester),
                Some(&t.id),
                Some(serde_json::json!({"bogus": true})),
            )
            .await;
        r.assert_error(403, "forbidden");
    }

    #[tokio::test]
    async fn tenant_mismatch_is_audited_in_the_keys_own_tenant() {
        let s = TestServer::start().await;
        let a = s.tenant().await;
        let b = s.tenant().await;
        let mut req = s
            .client
            .get(format!("{}/v1/keys", s.base))
            .header("X-API-Key", &a.admin_key)
            .header("X-Tenant-ID", &b.id);
        req = req.header("X-On-Behalf-Of", "mallory@example.com");
        let r = TestServer::read(req.send().await.unwrap()).await;
        r.assert_error(403, "tenant_mismatch");

        let events_a = s.events(&a.id).await;
        let mismatches: Vec<_> = events_a
            .iter()
            .filter(|(k, _)| k == "auth.tenant_mismatch")
            .collect();
        assert_eq!(mismatches.len(), 1, "{events_a:?}");
        let ev = &mismatches[0].1;
        assert_eq!(ev["subject"]["type"], "key");
        assert_eq!(ev["actor"]["role"], "admin");
        assert_eq!(ev["actor"]["on_behalf_of"], "mallory@example.com");
        assert_eq!(ev["request"]["tenant_id"], b.id.as_str());
        // Tenant B's log does not learn about A's key.
        assert!(s
            .events(&b.id)
            .await
            .iter()
            .all(|(k, _)| k != "auth.tenant_mismatch"));
    }

    #[tokio::test]
    async fn revoked_key_fails_on_the_very_next_request() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let r = s
            .call(
                Method::POST,
                "/v1/keys",
                Some(&t.admin_key),
                Some(&t.id),
                Some(serde_json::json!({"role": "admin"})),
            )
            .await;
        assert_eq!(r.status, 201);
        let key = r.body["key"].as_str().unwrap().to_string();
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            s.call(Method::GET, "/v1/keys", Some(&key), Some(&t.id), None)
                .await
                .status,
            200
        );
        let del = s
            .call(
                Method::DELETE,
                &format!("/v1/keys/{id}"),
                Some(&t.admin_key),
                Some(&t.id),
                None,
            )
            .await;
        assert_eq!(del.status, 204, "{}", del.text);
        s.call(Method::GET, "/v1/keys", Some(&key), Some(&t.id), None)
            .await
            .assert_error(401, "unauthenticated");
        // listed with revoked_at, never with a secret
        let list = s.admin_get(&t, "/v1/keys").await;
        let item = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id.as_str())
            .unwrap()
            .clone();
        assert!(item["revoked_at"].is_string());
        assert!(!list.text.contains(&key[36..]));
        assert!(item.get("key").is_none());
        // audited once
        let kinds: Vec<String> = s.events(&t.id).await.into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "key.revoke").count(), 1);
        assert_eq!(kinds.iter().filter(|k| *k == "key.create").count(), 2);
    }

    #[tokio::test]
    async fn tenants_cannot_see_each_others_keys() {
        let s = TestServer::start().await;
        let a = s.tenant().await;
        let b = s.tenant().await;
        let b_key = s.key(&b, "auditor").await;
        let b_list = s.admin_get(&b, "/v1/keys").await;
        let b_ids: Vec<String> = b_list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(b_ids.len(), 2);

        let a_list = s.admin_get(&a, "/v1/keys").await;
        let a_items = a_list.body["items"].as_array().unwrap();
        assert_eq!(a_items.len(), 1);
        for id in &b_ids {
            assert!(!a_list.text.contains(id.as_str()));
            // A cannot revoke B's key: it is simply not found.
            s.call(
                Method::DELETE,
                &format!("/v1/keys/{id}"),
                Some(&a.admin_key),
                Some(&a.id),
                None,
            )
            .await
            .assert_error(404, "not_found");
        }
        // B's key still works.
        assert_eq!(
            s.call(
                Method::GET,
                "/v1/audit-events/verify",
                Some(&b_key),
                Some(&b.id),
                None
            )
            .await
            .status,
            200
        );
        // Unknown and malformed ids are not found either.
        for id in ["0190a5e0-0000-7000-8000-00000000beef", "not-a-uuid"] {
            s.call(
                Method::DELETE,
                &format!("/v1/keys/{id}"),
                Some(&a.admin_key),
                Some(&a.id),
                None,
            )
            .await
            .assert_error(404, "not_found");
        }
    }

    #[tokio::test]
    async fn created_keys_have_their_role_and_are_audited_with_the_actor() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let req = s
            .client
            .post(format!("{}/v1/keys", s.base))
            .header("X-API-Key", &t.admin_key)
            .header("X-Tenant-ID", &t.id)
            .header("X-On-Behalf-Of", "alice@example.com")
            .json(&serde_json::json!({"role": "author", "name": "ci"}));
        let r = TestServer::read(req.send().await.unwrap()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["role"], "author");
        assert_eq!(r.body["name"], "ci");
        assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));
        let events = s.events(&t.id).await;
        let (kind, ev) = events.last().unwrap();
        assert_eq!(kind, "key.create");
        assert_eq!(ev["subject"]["id"], r.body["id"]);
        assert_eq!(ev["actor"]["on_behalf_of"], "alice@example.com");
        assert_eq!(ev["actor"]["role"], "admin");
        assert_eq!(ev["request"]["role"], "author");
        // The author key may not manage keys.
        let author = r.body["key"].as_str().unwrap();
        s.call(Method::GET, "/v1/keys", Some(author), Some(&t.id), None)
            .await
            .assert_error(403, "forbidden");
    }
}
