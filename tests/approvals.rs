//! Grants that wait for approval, over HTTP: a policy's `approval`, PENDING_APPROVAL grants,
//! approve and deny decided by Cedar, self-approval, timeouts and the approvals queue.

mod common;

use common::{send, send_on_behalf, Resp, Tenant, TestServer};
use grantd::clock::{parse_ts, Clock};
use reqwest::Method;
use serde_json::{json, Value};

fn entities() -> Value {
    json!([
        {"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "sre-leads"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "User", "id": "lead1"}, "attrs": {}, "parents": [{"type": "Group", "id": "sre-leads"}, {"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "User", "id": "lead2"}, "attrs": {}, "parents": [{"type": "Group", "id": "sre-leads"}]},
        {"uid": {"type": "User", "id": "mallory"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "App", "id": "production"}, "attrs": {}, "parents": []},
        {"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []}
    ])
}

/// Engineering may request production (approval by one of `count` sre-leads within an
/// hour); sre-leads may approve anything in production.
fn prod_policy(count: i64) -> Value {
    json!({"key": "prod", "name": "production", "max_duration_seconds": 7200,
    "default_duration_seconds": 3600,
    "approval": {"approvers": {"type": "Group", "id": "sre-leads"}, "count": count, "timeout_seconds": 3600},
    "rules": [
        {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
         "principal_entity_id": "engineering", "action_scope_type": "in", "action_ids": ["request", "extend"],
         "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "production"},
        {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
         "principal_entity_id": "sre-leads", "action_scope_type": "eq", "action_ids": ["approve"],
         "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "production",
         "notice": "Approvals of production access are reviewed weekly."}
    ]})
}

struct Ctx {
    s: TestServer,
    t: Tenant,
    req: String,
}

async fn setup(policy: Value) -> Ctx {
    let s = TestServer::start().await;
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
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::POST,
        "/v1/policies",
        Some(policy),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let req = s.key(&t, "requester").await;
    Ctx { s, t, req }
}

impl Ctx {
    async fn request(&self, user: &str, app: &str) -> Resp {
        send_on_behalf(
            &self.s,
            &self.req,
            &self.t,
            Method::POST,
            "/v1/grants",
            Some(json!({"principal": {"type": "User", "id": user},
                "resource": {"type": "App", "id": app}, "reason": "incident 7"})),
            user,
        )
        .await
    }

    async fn decide(&self, id: &str, verb: &str, approver: &str) -> Resp {
        send_on_behalf(
            &self.s,
            &self.req,
            &self.t,
            Method::POST,
            &format!("/v1/grants/{id}/{verb}"),
            Some(json!({"reason": format!("{verb} by {approver}")})),
            approver,
        )
        .await
    }

    async fn check(&self, user: &str, app: &str) -> bool {
        let r = send(
            &self.s,
            &self.req,
            &self.t,
            Method::POST,
            "/v1/access/check",
            Some(json!({"principal": {"type": "User", "id": user},
                "resource": {"type": "App", "id": app}})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["allowed"].as_bool().unwrap()
    }

    async fn grant(&self, id: &str) -> Value {
        let r = send(
            &self.s,
            &self.req,
            &self.t,
            Method::GET,
            &format!("/v1/grants/{id}"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    async fn kinds(&self, id: &str) -> Vec<(String, Option<String>)> {
        let r = self
            .s
            .admin_get(
                &self.t,
                &format!("/v1/audit-events?subject={id}&per_page=100"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["decision"].as_str().map(str::to_string),
                )
            })
            .collect()
    }

    async fn list(&self, filters: Value) -> Vec<String> {
        let r = send(
            &self.s,
            &self.req,
            &self.t,
            Method::POST,
            "/v1/grants/list",
            Some(filters),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect()
    }
}

backends! {
    #[tokio::test]
    async fn the_whole_approval_story() {
        let c = setup(prod_policy(1)).await;
        let r = c.request("alice", "production").await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(r.body["status"], "PENDING_APPROVAL");
        assert_eq!(r.body["grant_type"], "APPROVAL_REQUIRED");
        assert_eq!(r.body["approval"]["required"], 1);
        assert_eq!(r.body["approval"]["duration_seconds"], 3600);
        // the approval deadline is the pending grant's expires_at
        assert_eq!(r.body["expires_at"], r.body["approval"]["deadline"]);
        assert!(!c.check("alice", "production").await, "a pending grant grants nothing");
        // it cannot be extended or changed while pending
        let r = send(&c.s, &c.req, &c.t, Method::POST, &format!("/v1/grants/{id}/extend"),
            Some(json!({"duration_seconds": 60}))).await;
        r.assert_error(409, "conflict");

        // waiting for lead1, not for alice or mallory
        let r = send_on_behalf(&c.s, &c.req, &c.t, Method::GET, "/v1/approvals", None, "lead1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["items"][0]["id"], id.as_str());
        for other in ["alice", "mallory"] {
            let r = send_on_behalf(&c.s, &c.req, &c.t, Method::GET, "/v1/approvals", None, other).await;
            assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{other}: {}", r.text);
        }

        c.s.clock.advance(chrono::Duration::seconds(120));
        let r = c.decide(&id, "approve", "lead1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["activated"], true);
        assert_eq!(r.body["status"], "GRANTED");
        assert_eq!(r.body["granted_by"], "lead1");
        let granted = parse_ts(r.body["granted_at"].as_str().unwrap()).unwrap();
        let expires = parse_ts(r.body["expires_at"].as_str().unwrap()).unwrap();
        assert_eq!(granted, c.s.clock.now(), "granted_at is the activation");
        assert_eq!((expires - granted).num_seconds(), 3600, "the duration runs from activation");
        assert!(c.check("alice", "production").await);
        // the queue is empty now
        let r = send_on_behalf(&c.s, &c.req, &c.t, Method::GET, "/v1/approvals", None, "lead2").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);

        let kinds = c.kinds(&id).await;
        assert_eq!(
            kinds,
            vec![
                ("grant.request".to_string(), Some("allow".to_string())),
                ("grant.approve".to_string(), Some("allow".to_string())),
            ]
        );
        let r = c.s.admin_get(&c.t, &format!("/v1/audit-events?subject={id}&kind=grant.approve")).await;
        let e = &r.body["items"][0];
        assert_eq!(e["actor"]["on_behalf_of"], "lead1");
        assert_eq!(e["request"]["approver"], "lead1");
        assert_eq!(e["notices"][0], "Approvals of production access are reviewed weekly.");

        // lists: by the new status, and by approver
        assert_eq!(c.list(json!([{"attribute": "approver", "operator": "EQUALS", "values": [{"value": "lead1"}]}])).await, vec![id.clone()]);
        assert!(c.list(json!([{"attribute": "approver", "operator": "EQUALS", "values": [{"value": "lead2"}]}])).await.is_empty());
        assert!(c.list(json!([{"attribute": "status", "operator": "EQUALS", "values": [{"value": "PENDING_APPROVAL"}]}])).await.is_empty());
        // an approved grant can be approved no more
        c.decide(&id, "approve", "lead2").await.assert_error(409, "conflict");
    }

    #[tokio::test]
    async fn approvers_outside_the_policy_and_self_approval_are_refused() {
        let c = setup(prod_policy(1)).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        // not among the approvers (sre-leads)
        let r = c.decide(&id, "approve", "mallory").await;
        r.assert_error(403, "access_denied");
        // no X-On-Behalf-Of, or an approver the entity store does not know
        let r = send(&c.s, &c.req, &c.t, Method::POST, &format!("/v1/grants/{id}/approve"), None).await;
        r.assert_error(400, "invalid_input");
        c.decide(&id, "approve", "nobody").await.assert_error(400, "invalid_input");
        // an auditor key may not decide
        let auditor = c.s.key(&c.t, "auditor").await;
        let r = send_on_behalf(&c.s, &auditor, &c.t, Method::POST, &format!("/v1/grants/{id}/approve"), None, "lead1").await;
        r.assert_error(403, "forbidden");
        // nothing changed
        let g = c.grant(&id).await;
        assert_eq!(g["status"], "PENDING_APPROVAL");
        assert_eq!(g["approval"]["approvals"].as_array().unwrap().len(), 0);
        assert_eq!(
            c.kinds(&id).await.iter().filter(|(k, d)| k == "grant.approve" && d.as_deref() == Some("deny")).count(),
            1,
            "the refused approval by a known approver is audited"
        );

        // lead1 requests for themself: lead1 is in sre-leads, but a rule naming
        // self_approve is needed
        let own = c.request("lead1", "production").await.body["id"].as_str().unwrap().to_string();
        let r = c.decide(&own, "approve", "lead1").await;
        r.assert_error(403, "access_denied");
        assert!(r.body["message"].as_str().unwrap().contains("self_approve"), "{}", r.text);
        // a broad rule (any action) does not count as naming it
        let broad = json!({"name": "leads do anything", "max_duration_seconds": 60, "rules": [
            {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
             "principal_entity_id": "sre-leads", "action_scope_type": "any", "resource_scope_type": "any"}]});
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/policies", Some(broad)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        c.decide(&own, "approve", "lead1").await.assert_error(403, "access_denied");
        // a rule that names self_approve does
        let explicit = json!({"name": "leads approve their own", "max_duration_seconds": 60, "rules": [
            {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
             "principal_entity_id": "sre-leads", "action_scope_type": "eq", "action_ids": ["self_approve"],
             "resource_scope_type": "any"}]});
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/policies", Some(explicit)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = c.decide(&own, "approve", "lead1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "GRANTED");
    }

    #[tokio::test]
    async fn a_denial_by_cedar_carries_its_notices() {
        // approvers named by Cedar alone (no `approvers` entity); a forbid with a notice
        let mut p = prod_policy(1);
        p["approval"] = json!({"count": 1, "timeout_seconds": 600});
        p["rules"].as_array_mut().unwrap().push(json!({"effect": "forbid", "principal_scope_type": "eq",
            "principal_entity_type": "User", "principal_entity_id": "lead2", "action_scope_type": "eq",
            "action_ids": ["approve"], "resource_scope_type": "any",
            "notice": "lead2 is on leave and approves nothing."}));
        let c = setup(p).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        let r = c.decide(&id, "approve", "lead2").await;
        r.assert_error(403, "access_denied");
        assert_eq!(r.body["notices"][0], "lead2 is on leave and approves nothing.", "{}", r.text);
        // mallory is permitted by no rule
        c.decide(&id, "approve", "mallory").await.assert_error(403, "access_denied");
        assert_eq!(c.grant(&id).await["status"], "PENDING_APPROVAL");
    }

    #[tokio::test]
    async fn two_approvers_are_needed_and_a_denial_ends_it() {
        let c = setup(prod_policy(2)).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        let r = c.decide(&id, "approve", "lead1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["activated"], false);
        assert_eq!(r.body["status"], "PENDING_APPROVAL");
        assert!(!c.check("alice", "production").await);
        // the same approver twice does not count twice
        c.decide(&id, "approve", "lead1").await.assert_error(409, "conflict");
        // lead1 has approved: nothing waits for lead1; lead2 still has it
        let r = send_on_behalf(&c.s, &c.req, &c.t, Method::GET, "/v1/approvals", None, "lead1").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);
        let r = send_on_behalf(&c.s, &c.req, &c.t, Method::GET, "/v1/approvals", None, "lead2").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
        let r = c.decide(&id, "approve", "lead2").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["activated"], true);
        assert_eq!(r.body["granted_by"], "lead1,lead2");
        assert!(c.check("alice", "production").await);

        // a second request, denied by one approver: DENIED, and no approval after that
        let id2 = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        let r = c.decide(&id2, "deny", "lead2").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "DENIED");
        assert_eq!(r.body["approval"]["denied_by"], "lead2");
        assert_eq!(r.body["approval"]["deny_reason"], "deny by lead2");
        c.decide(&id2, "approve", "lead1").await.assert_error(409, "conflict");
        assert_eq!(c.list(json!([{"attribute": "status", "operator": "IN", "values": [{"value": "DENIED"}]}])).await, vec![id2.clone()]);
        assert!(c.kinds(&id2).await.contains(&("grant.deny".to_string(), Some("allow".to_string()))));
    }

    #[tokio::test]
    async fn a_pending_grant_times_out_as_approval_expired() {
        let c = setup(prod_policy(1)).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        let other = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        c.s.clock.advance(chrono::Duration::seconds(3601));
        // effective at once, before the sweeper persists it
        assert_eq!(c.grant(&id).await["status"], "APPROVAL_EXPIRED");
        c.decide(&id, "approve", "lead1").await.assert_error(409, "conflict");
        assert_eq!(
            c.list(json!([{"attribute": "status", "operator": "EQUALS", "values": [{"value": "APPROVAL_EXPIRED"}]}])).await.len(),
            2
        );
        let n = grantd::service::grants::sweep(&c.s.state.services.store, c.s.clock.now()).await.unwrap();
        assert_eq!(n, 2);
        assert_eq!(c.grant(&id).await["status"], "APPROVAL_EXPIRED");
        assert_eq!(c.grant(&other).await["status"], "APPROVAL_EXPIRED");
        assert_eq!(
            c.kinds(&id).await,
            vec![
                ("grant.request".to_string(), Some("allow".to_string())),
                ("grant.approval_expire".to_string(), None),
            ]
        );
        assert!(!c.check("alice", "production").await);
    }

    #[tokio::test]
    async fn activation_decides_the_request_again() {
        let c = setup(prod_policy(1)).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        // while it waits, engineering loses production
        let forbid = json!({"name": "freeze", "max_duration_seconds": 60, "rules": [
            {"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "eq",
             "action_ids": ["request"], "resource_scope_type": "eq", "resource_entity_type": "App",
             "resource_entity_id": "production", "notice": "Production is frozen."}]});
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/policies", Some(forbid)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = c.decide(&id, "approve", "lead1").await;
        r.assert_error(403, "access_denied");
        assert_eq!(r.body["notices"][0], "Production is frozen.");
        let g = c.grant(&id).await;
        assert_eq!(g["status"], "PENDING_APPROVAL");
        assert_eq!(g["approval"]["approvals"].as_array().unwrap().len(), 0, "a refused approval changes nothing");
        assert!(!c.check("alice", "production").await);
    }

    #[tokio::test]
    async fn preapproved_grants_and_withdrawn_requests() {
        let c = setup(prod_policy(1)).await;
        // github needs no approval: a policy without `approval`
        let gh = json!({"name": "github", "max_duration_seconds": 600, "rules": [
            {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
             "principal_entity_id": "engineering", "action_scope_type": "eq", "action_ids": ["request"],
             "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "github"}]});
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/policies", Some(gh)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = c.request("alice", "github").await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["status"], "GRANTED");
        assert_eq!(r.body["grant_type"], "PREAPPROVED");
        assert!(r.body.get("approval").is_none(), "{}", r.text);
        let gid = r.body["id"].as_str().unwrap().to_string();
        c.decide(&gid, "approve", "lead1").await.assert_error(409, "conflict");
        // a pending request may be withdrawn (revoked)
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        let r = send(&c.s, &c.req, &c.t, Method::POST, &format!("/v1/grants/{id}/revoke"), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "REVOKED");
        c.decide(&id, "approve", "lead1").await.assert_error(409, "conflict");
    }

    #[tokio::test]
    async fn approval_fields_are_checked() {
        let c = setup(prod_policy(1)).await;
        for (approval, field) in [
            (json!({"count": 0}), "approval.count"),
            (json!({"count": 11}), "approval.count"),
            (json!({"timeout_seconds": 10}), "approval.timeout_seconds"),
            (json!({"timeout_seconds": 40_000_000}), "approval.timeout_seconds"),
            (json!({"approvers": {"type": "", "id": "x"}}), "approval.approvers"),
            (json!({"approvers": {"type": "not a type", "id": "x"}}), "approval.approvers.type"),
            (json!({"approvers": {"type": "Group\"", "id": "x"}}), "approval.approvers.type"),
            (json!({"approvers": {"type": "1Group", "id": "x"}}), "approval.approvers.type"),
        ] {
            let mut p = prod_policy(1);
            p["key"] = json!("other");
            p["approval"] = approval.clone();
            let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/policies", Some(p)).await;
            r.assert_error(400, "invalid_input");
            assert!(r.text.contains(field), "{approval}: {}", r.text);
        }
        let mut p = prod_policy(1);
        p["approval"]["quorum"] = json!(2);
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/policies", Some(p)).await;
        r.assert_error(400, "invalid_input");
        // PATCH null removes the requirement: new grants are active at once
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::PATCH, "/v1/policies/prod", Some(json!({"approval": null}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["approval"].is_null());
        assert_eq!(c.request("alice", "production").await.body["status"], "GRANTED");
    }

    #[tokio::test]
    async fn an_approved_grant_gets_no_more_than_was_approved() {
        let mut p = prod_policy(1);
        p["rules"][0]["action_ids"] = json!(["request", "extend"]);
        let c = setup(p).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        assert_eq!(c.decide(&id, "approve", "lead1").await.status, 200);
        // no extension, no new scopes without a new approval
        let r = send(&c.s, &c.req, &c.t, Method::POST, &format!("/v1/grants/{id}/extend"),
            Some(json!({"duration_seconds": 7000}))).await;
        r.assert_error(409, "conflict");
        assert!(r.body["message"].as_str().unwrap().contains("requires approval"), "{}", r.text);
        let r = send(&c.s, &c.req, &c.t, Method::PUT, &format!("/v1/grants/{id}"),
            Some(json!({"scopes": ["admin"]}))).await;
        r.assert_error(409, "conflict");
        let g = c.grant(&id).await;
        assert_eq!(g["version"], 2, "nothing changed: {g}");
        assert_eq!(g["scopes"], json!([]));
    }

    #[tokio::test]
    async fn the_current_requirement_counts_at_activation() {
        let c = setup(prod_policy(1)).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        // tightened while it waits: two approvers now
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::PATCH, "/v1/policies/prod",
            Some(json!({"approval": {"approvers": {"type": "Group", "id": "sre-leads"}, "count": 2, "timeout_seconds": 3600}}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = c.decide(&id, "approve", "lead1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["activated"], false);
        assert_eq!(r.body["approval"]["required"], 2);
        // lead1 leaves sre-leads: their approval no longer counts
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::PUT, "/v1/entities",
            Some(json!([{"uid": {"type": "User", "id": "lead1"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]}]))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = c.decide(&id, "approve", "lead2").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["activated"], false, "{}", r.text);
        assert!(!c.check("alice", "production").await);
    }

    #[tokio::test]
    async fn bulk_revoke_withdraws_pending_requests() {
        let c = setup(prod_policy(1)).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/grants/revoke",
            Some(json!({"filters": [{"attribute": "user", "operator": "EQUALS", "values": [{"value": "alice"}]}],
                "reason": "offboarding"}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["revoked"], 1);
        assert_eq!(c.grant(&id).await["status"], "REVOKED");
        c.decide(&id, "approve", "lead1").await.assert_error(409, "conflict");
        assert!(!c.check("alice", "production").await);
    }

    #[tokio::test]
    async fn an_approval_needs_a_schema_that_can_decide_it() {
        let c = setup(prod_policy(1)).await;
        // approvers of a type the schema does not declare
        let mut p = prod_policy(1);
        p["key"] = json!("other");
        p["approval"]["approvers"] = json!({"type": "Team", "id": "x"});
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::POST, "/v1/policies", Some(p)).await;
        r.assert_error(400, "invalid_input");
        assert!(r.text.contains("Team"), "{}", r.text);
        // a tenant whose schema has no approve action cannot ask for approval
        let old = c.s.tenant().await;
        let schema = std::fs::read_to_string(common::policies_dir().join("schema.cedarschema")).unwrap();
        let cut = schema[..schema.find("// The context grantd builds for every approval").unwrap()].to_string();
        let r = send(&c.s, &old.admin_key, &old, Method::PUT, "/v1/schema", Some(json!({"cedarschema": cut}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(&c.s, &old.admin_key, &old, Method::PUT, "/v1/entities", Some(entities())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut p = prod_policy(1);
        p["rules"] = json!([p["rules"][0].clone()]);
        let r = send(&c.s, &old.admin_key, &old, Method::POST, "/v1/policies", Some(p)).await;
        r.assert_error(400, "invalid_input");
        assert!(r.text.contains("approve"), "{}", r.text);
    }

    #[tokio::test]
    async fn the_duration_runs_from_activation_clamped_by_the_current_maximum() {
        let c = setup(prod_policy(1)).await;
        let id = c.request("alice", "production").await.body["id"].as_str().unwrap().to_string();
        // while it waits, the policy's maximum falls below the chosen 3600 s
        let r = send(&c.s, &c.t.admin_key, &c.t, Method::PATCH, "/v1/policies/prod",
            Some(json!({"max_duration_seconds": 1800, "default_duration_seconds": null}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        c.s.clock.advance(chrono::Duration::seconds(600));
        let r = c.decide(&id, "approve", "lead1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["clamped"], true);
        let granted = parse_ts(r.body["granted_at"].as_str().unwrap()).unwrap();
        let expires = parse_ts(r.body["expires_at"].as_str().unwrap()).unwrap();
        assert_eq!(granted, c.s.clock.now());
        assert_eq!((expires - granted).num_seconds(), 1800);
    }
}
