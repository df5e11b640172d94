//! The console at `/console`, driven in headless Chromium through chromedriver (WebDriver)
//! against a real grantd on 127.0.0.1: what auditors, authors, requesters and approvers do
//! there, text that must stay text, and what a key of the wrong role sees.
//!
//! Chromium and chromedriver come from Debian (`chromium`, `chromium-driver`; `.ci/run`
//! installs them). Without them the tests are skipped, saying so, unless
//! `GRANTD_TEST_BROWSER` is set (as `.ci/run` sets it): then a missing browser fails them.
//! The SQLite variants save screenshots of the main pages in `target/tmp/console/`, and in
//! `docs/console/` (the README's pictures) when `GRANTD_UPDATE_SCREENSHOTS` is set.

mod common;

use common::{send, send_on_behalf, Tenant, TestServer};
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

fn executable(var: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(var) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Chromium and chromedriver, or `None` (the test is skipped) when either is missing and
/// `GRANTD_TEST_BROWSER` is unset.
fn browser_paths(test: &str) -> Option<(PathBuf, PathBuf)> {
    let chromium = executable(
        "GRANTD_TEST_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let driver = executable("GRANTD_TEST_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ if std::env::var_os("GRANTD_TEST_BROWSER").is_some() => {
            panic!("{test}: GRANTD_TEST_BROWSER is set but chromium or chromedriver is missing (apt-get install chromium chromium-driver)")
        }
        _ => {
            eprintln!("skipped {test}: chromium or chromedriver is not installed");
            None
        }
    }
}

/// One chromedriver and one Chromium session, for one test.
struct Browser {
    client: Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn open(base: &str, test: &str) -> Option<Browser> {
        let (chromium, driver_path) = browser_paths(test)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display())]
        }});
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            // chromedriver is on loopback: plain HTTP, no TLS.
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if started.elapsed() < PATIENCE => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    let _ = driver.kill();
                    panic!("chromedriver session: {e}");
                }
            }
        };
        Some(Browser {
            client,
            base: base.to_string(),
            driver,
            _profile: profile,
        })
    }

    /// Runs `body` with a browser on `s`, then closes the browser whatever happened.
    async fn with<F>(base: &str, test: &str, body: F)
    where
        F: for<'a> FnOnce(&'a Browser) -> futures_util::future::BoxFuture<'a, ()>,
    {
        let Some(mut b) = Browser::open(base, test).await else {
            return;
        };
        let outcome = std::panic::AssertUnwindSafe(body(&b)).catch_unwind().await;
        if outcome.is_err() {
            let _ = b.shot(&format!("failed-{}", test.replace("::", "-"))).await;
        }
        let _ = b.client.clone().close().await;
        let _ = b.driver.kill();
        let _ = b.driver.wait();
        if let Err(p) = outcome {
            std::panic::resume_unwind(p);
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    /// Signs in on the console's form and waits for the first page.
    async fn sign_in(&self, key: &str, t: &Tenant, on_behalf_of: Option<&str>) {
        self.goto("/console/").await;
        self.typed("#key", key).await;
        self.typed("#tenant", &t.id).await;
        if let Some(who) = on_behalf_of {
            self.typed("#on-behalf-of", who).await;
        }
        self.click("#sign-in button[type=submit]").await;
        self.wait("#role").await;
    }

    async fn wait(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} appears: {e}"))
    }

    async fn click(&self, css: &str) {
        self.wait(css).await.click().await.expect("click");
    }

    async fn typed(&self, css: &str, text: &str) {
        let e = self.wait(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    async fn select(&self, css: &str, value: &str) {
        self.wait(css)
            .await
            .select_by_value(value)
            .await
            .expect("select");
    }

    /// The text of the first element matching `css` once it contains `needle`.
    async fn text_with(&self, css: &str, needle: &str) -> String {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < PATIENCE {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = e.text().await {
                    if t.contains(needle) {
                        return t;
                    }
                    last = t;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never contained {needle:?}; last text: {last:?}");
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    async fn path_and_query(&self) -> String {
        let u = self.client.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// A screenshot of the page (SQLite variants only: the pictures are the same).
    async fn shot(&self, name: &str) -> Option<()> {
        if common::Backend::current() != common::Backend::Sqlite {
            return Some(());
        }
        let png = self.client.screenshot().await.ok()?;
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(dir.join(format!("{name}.png")), &png).ok()?;
        if std::env::var_os("GRANTD_UPDATE_SCREENSHOTS").is_some() && !name.starts_with("failed") {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console");
            std::fs::create_dir_all(&docs).ok()?;
            std::fs::write(docs.join(format!("{name}.png")), &png).ok()?;
        }
        Some(())
    }
}

/// A notice that would run script if it were ever rendered as HTML.
const HOSTILE: &str = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\"> CRM access is logged & reviewed.";
const CONTRACTORS: &str = "Contractors may not access the CRM.";

/// Entities, a CRM policy (two rules: request with the hostile notice, extend with a
/// reason), a higher-priority forbid for contractors, alice's grant and mallory's denied
/// request.
struct World {
    s: TestServer,
    t: Tenant,
    requester: String,
    crm_policy: String,
    grant: String,
}

async fn world() -> World {
    let s = TestServer::start().await;
    let t = s.tenant().await;
    let admin = t.admin_key.clone();
    let r = send(&s, &admin, &t, Method::PUT, "/v1/entities", Some(json!([
        {"uid": {"type": "Group", "id": "contractors"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "sales-leads"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "bob"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "lead"}, "attrs": {}, "parents": [{"type": "Group", "id": "sales-leads"}]},
        {"uid": {"type": "User", "id": "mallory"}, "attrs": {}, "parents": [{"type": "Group", "id": "contractors"}]},
        {"uid": {"type": "App", "id": "crm"}, "attrs": {}, "parents": []},
        {"uid": {"type": "App", "id": "billing"}, "attrs": {}, "parents": []}
    ]))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        &s,
        &admin,
        &t,
        Method::POST,
        "/v1/policies",
        Some(json!({
        "key": "crm", "name": "CRM access", "priority": 10, "max_duration_seconds": 86400,
        "default_duration_seconds": 3600,
        "rules": [
            {"effect": "permit", "principal_scope_type": "any", "action_scope_type": "eq",
             "action_ids": ["request"], "resource_scope_type": "eq", "resource_entity_type": "App",
             "resource_entity_id": "crm", "notice": HOSTILE},
            {"effect": "permit", "principal_scope_type": "any", "action_scope_type": "eq",
             "action_ids": ["extend"], "resource_scope_type": "eq", "resource_entity_type": "App",
             "resource_entity_id": "crm", "conditions": "when { context.reason != \"\" }"}
        ]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let crm_policy = r.body["id"].as_str().unwrap().to_string();
    let r = send(&s, &admin, &t, Method::POST, "/v1/policies", Some(json!({
        "key": "no-contractors", "name": "No contractors on CRM", "priority": 20,
        "max_duration_seconds": 3600,
        "rules": [{"effect": "forbid", "principal_scope_type": "in", "principal_entity_type": "Group",
            "principal_entity_id": "contractors", "action_scope_type": "any",
            "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "crm",
            "notice": CONTRACTORS}]}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let requester = s.key(&t, "requester").await;
    let r = request(&s, &t, &requester, "alice", "crm").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let grant = r.body["id"].as_str().unwrap().to_string();
    let r = request(&s, &t, &requester, "mallory", "crm").await;
    r.assert_error(403, "access_denied");
    World {
        s,
        t,
        requester,
        crm_policy,
        grant,
    }
}

async fn request(s: &TestServer, t: &Tenant, key: &str, user: &str, app: &str) -> common::Resp {
    send_on_behalf(
        s,
        key,
        t,
        Method::POST,
        "/v1/grants",
        Some(json!({"principal": {"type": "User", "id": user},
            "resource": {"type": "App", "id": app}, "scopes": ["read"], "reason": "ticket 42"})),
        "portal@example.com",
    )
    .await
}

backends! {
    /// An auditor filters the log by user and decision, finds mallory's denied request and
    /// sees the notice it showed; the filters are in the page's address.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn auditor_finds_a_denied_request_and_its_notices() {
        let w = world().await;
        let auditor = w.s.key(&w.t, "auditor").await;
        Browser::with(&w.s.base.clone(), module_path!(), |b| async move {
            b.sign_in(&auditor, &w.t, None).await;
            // The key lives in the tab's sessionStorage only: not in the address, a cookie
            // or localStorage.
            let kept = b.js(&format!(
                "return [sessionStorage.getItem('grantd.key') === {k}, document.cookie, localStorage.length, location.href.includes({k})]",
                k = serde_json::to_string(&auditor).unwrap()
            )).await;
            assert_eq!(kept, json!([true, "", 0, false]));
            assert_eq!(b.text_with("#role", "auditor").await, "auditor");
            b.goto("/console/audit").await;
            b.typed("#audit-subject", "User::\"mallory\"").await;
            b.select("#audit-decision", "deny").await;
            b.click("#audit-apply").await;
            let events = b.text_with("#audit-events", CONTRACTORS).await;
            assert!(events.contains("grant.request"), "{events}");
            assert!(!events.contains("alice"), "only mallory's events: {events}");
            let here = b.path_and_query().await;
            assert!(here.contains("decision=deny") && here.contains("subject="), "{here}");
            // The chain's state and head hash.
            b.click("#verify").await;
            assert!(b.text_with("#verify-state", "verified").await.contains("Chain verified"));
            let head = b.wait("#head-hash").await.text().await.unwrap();
            assert_eq!(head.len(), 64, "{head}");
            b.shot("audit").await;
            // The event's full record and the Cedar text of the version that decided it.
            b.click("#audit-events details summary").await;
            b.click("#audit-events details button").await;
            b.text_with("#audit-events .version", "forbid").await;
            // The same address opened afresh shows the same events.
            b.goto(&here).await;
            b.text_with("#audit-events", CONTRACTORS).await;
        }.boxed()).await;
    }

    /// An author breaks the second rule of a policy, sees the diagnostic at that rule (and
    /// not at the first), previews the fix's impact, saves it, and the policy has it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn author_sees_a_diagnostic_at_its_rule_then_fixes_and_saves() {
        let w = world().await;
        let author = w.s.key(&w.t, "author").await;
        let policy = w.crm_policy.clone();
        Browser::with(&w.s.base.clone(), module_path!(), |b| async move {
            b.sign_in(&author, &w.t, None).await;
            b.goto("/console/policies").await;
            // By priority: the forbid (20) before the CRM policy (10).
            let list = b.text_with("#policy-results", "CRM access").await;
            let (forbid, crm) = (list.find("No contractors").unwrap(), list.find("CRM access").unwrap());
            assert!(forbid < crm, "{list}");
            b.shot("policies").await;
            b.client.find(Locator::LinkText("CRM access")).await.unwrap().click().await.unwrap();
            b.text_with("#rules", "context.reason").await;
            b.click("#edit").await;
            // Saving what was not changed sends nothing.
            b.click("#save").await;
            b.text_with("#nothing-changed", "Nothing changed").await;
            b.typed("#edit-rules .rule:nth-child(2) .r-conditions", "when { context.resaon == \"x\" }").await;
            b.click("#save").await;
            let diag = b.text_with("#edit-rules .rule:nth-child(2) .diagnostic", "resaon").await;
            assert!(diag.contains("resaon"), "{diag}");
            let first = b.js("return document.querySelectorAll('#edit-rules .rule:nth-child(1) .diagnostic').length").await;
            assert_eq!(first, json!(0), "no diagnostic at the first rule");
            assert!(b.text_with("#policy-error", "invalid_input").await.contains("invalid_input"));
            b.shot("policy-diagnostic").await;
            // Nothing was stored.
            let r = send(&w.s, &author, &w.t, Method::GET, &format!("/v1/policies/{policy}"), None).await;
            assert_eq!(r.body["version"], 1, "{}", r.text);
            // The fix, previewed, then saved.
            b.typed("#edit-rules .rule:nth-child(2) .r-conditions", "when { context.reason like \"ticket*\" }").await;
            b.click("#preview").await;
            let impact = b.text_with("#impact", "Active grants examined").await;
            assert!(impact.contains("examined: 1"), "{impact}");
            let gone = b.js("return document.querySelectorAll('#edit-rules .diagnostic').length").await;
            assert_eq!(gone, json!(0), "the diagnostics are cleared");
            b.click("#save").await;
            b.text_with("#rules", "ticket*").await;
            let r = send(&w.s, &author, &w.t, Method::GET, &format!("/v1/policies/{policy}"), None).await;
            assert_eq!(r.body["version"], 2, "{}", r.text);
            assert_eq!(r.body["rules"][1]["conditions"], "when { context.reason like \"ticket*\" }");
            assert_eq!(r.body["rules"][0]["notice"], HOSTILE, "the other rule is kept whole");
        }.boxed()).await;
    }

    /// A revoke from the grant's page, after a confirmation, shows REVOKED, and the grant's
    /// history (from the audit log) shows the request and the revocation with their notices.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revoke_from_the_grant_page_shows_revoked() {
        let w = world().await;
        let grant = w.grant.clone();
        let admin = w.t.admin_key.clone();
        Browser::with(&w.s.base.clone(), module_path!(), |b| async move {
            b.sign_in(&admin, &w.t, Some("auditor@example.com")).await;
            b.goto(&format!("/console/grants/{grant}")).await;
            b.text_with("#grant-status", "GRANTED").await;
            // Timestamps are shown in the viewer's zone with the UTC value on hover.
            let times = b.js("return [...document.querySelectorAll('#grant-props time')].map(t => t.title.endsWith('Z (UTC)') && t.textContent.length > 0)").await;
            assert!(!times.as_array().unwrap().is_empty() && times.as_array().unwrap().iter().all(|v| v == true), "{times}");
            let history = b.text_with("#history-events", "grant.request").await;
            assert!(history.contains("CRM access is logged"), "the notice shown at the request: {history}");
            b.shot("grant").await;
            b.typed("#revoke-reason", "left the team").await;
            b.click("#revoke").await;
            b.text_with("#revoke-dialog", "This revokes 1 grant").await;
            b.click("#revoke-confirm").await;
            b.text_with("#grant-status", "REVOKED").await;
            b.text_with("#history-events", "grant.revoke").await;
            let r = send(&w.s, &admin, &w.t, Method::GET, &format!("/v1/grants/{grant}"), None).await;
            assert_eq!(r.body["status"], "REVOKED", "{}", r.text);
            assert_eq!(r.body["revoke_reason"], "left the team");
        }.boxed()).await;
    }

    /// A notice holding markup is shown as its text on the grant, policy and decision
    /// pages, and nothing in it runs or loads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn markup_in_a_notice_is_shown_as_text_and_runs_nothing() {
        let w = world().await;
        let grant = w.grant.clone();
        let requester = w.requester.clone();
        let author = w.s.key(&w.t, "author").await;
        let policy = w.crm_policy.clone();
        Browser::with(&w.s.base.clone(), module_path!(), |b| async move {
            b.sign_in(&requester, &w.t, None).await;
            b.goto(&format!("/console/grants/{grant}")).await;
            let notice = b.text_with("#grant-notices .notice", "CRM access").await;
            assert_eq!(notice, HOSTILE);
            b.goto("/console/decide").await;
            b.click("#decide").await;
            let notices = b.text_with("#notices", "CRM access").await;
            assert_eq!(notices, HOSTILE);
            assert_eq!(b.text_with("#decision", "allow").await, "allow");
            let clean = b.js("return [window.__pwned === undefined, document.querySelectorAll('img, main script').length]").await;
            assert_eq!(clean, json!([true, 0]), "no script ran and no element was made of the notice");
            b.shot("decision").await;
            // The author's view of the rule.
            b.click("#sign-out").await;
            b.sign_in(&author, &w.t, None).await;
            b.goto(&format!("/console/policies/{policy}")).await;
            assert_eq!(b.text_with(".rule-notice", "CRM access").await, HOSTILE);
            let clean = b.js("return [window.__pwned === undefined, document.querySelectorAll('img, main script').length]").await;
            assert_eq!(clean, json!([true, 0]));
        }.boxed()).await;
    }

    /// A key sees the pages its role may use and a clear message on the others, and the
    /// navigation marks the others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_of_the_wrong_role_sees_a_clear_message() {
        let w = world().await;
        let author = w.s.key(&w.t, "author").await;
        let requester = w.requester.clone();
        Browser::with(&w.s.base.clone(), module_path!(), |b| async move {
            b.sign_in(&author, &w.t, None).await;
            assert_eq!(b.text_with("#role", "author").await, "author");
            b.goto("/console/grants").await;
            let refused = b.text_with("#role-refused", "forbidden").await;
            assert!(refused.contains("admin, requester, auditor") && refused.contains("author"), "{refused}");
            let marked = b.js("return document.querySelector('#nav a[href=\"/console/grants\"]').classList.contains('unavailable')").await;
            assert_eq!(marked, json!(true));
            b.goto("/console/audit").await;
            b.text_with("#role-refused", "admin, auditor").await;
            b.goto("/console/policies").await;
            b.text_with("#policy-results", "CRM access").await;
            b.goto("/console/decide").await;
            b.click("#decide").await;
            b.text_with("#decision", "allow").await;
            // A requester: grants yes, audit no; the grant page says why there is no history.
            b.click("#sign-out").await;
            b.sign_in(&requester, &w.t, None).await;
            b.goto("/console/audit").await;
            b.text_with("#role-refused", "requester").await;
            b.goto(&format!("/console/grants/{}", w.grant)).await;
            b.text_with("#grant-history", "admin or auditor key").await;
            // A key the API refuses: the code and message, and no signing in.
            b.click("#sign-out").await;
            b.goto("/console/").await;
            b.typed("#key", "gd_00000000000000000000000000000000_nope").await;
            b.typed("#tenant", &w.t.id).await;
            b.click("#sign-in button[type=submit]").await;
            let err = b.text_with("#sign-in-result .error", "unauthenticated").await;
            assert!(err.contains("unauthenticated"), "{err}");
        }.boxed()).await;
    }

    /// The filter builder lists a user's grants (its filters in the address), and bulk
    /// revoke says how many grants it will touch before it touches them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filter_builder_and_bulk_revoke_with_its_count() {
        let w = world().await;
        for app in ["crm", "crm", "crm"] {
            let r = request(&w.s, &w.t, &w.requester, "bob", app).await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let admin = w.t.admin_key.clone();
        Browser::with(&w.s.base.clone(), module_path!(), |b| async move {
            b.sign_in(&admin, &w.t, None).await;
            b.goto("/console/grants").await;
            b.text_with("#pager-top", "4 grants").await;
            b.click("#add-filter").await;
            b.select("#filters .filter:nth-child(1) .f-attribute", "user").await;
            b.select("#filters .filter:nth-child(1) .f-operator", "IS_ANY_OF").await;
            b.typed("#filters .filter:nth-child(1) .f-value", "bob, carol").await;
            b.select("#sort-order", "EXPIRES_AT_ASC").await;
            b.click("#apply").await;
            b.text_with("#pager-top", "3 grants").await;
            // With a search applied, bulk revoke (which takes filters only) is not offered.
            b.typed("#search-key", "crm").await;
            b.click("#apply").await;
            b.text_with("#bulk-needs-no-search", "clear the search").await;
            b.wait("#search-key").await.clear().await.unwrap();
            b.click("#apply").await;
            b.text_with("#pager-top", "3 grants").await;
            b.wait("#bulk-revoke").await;
            let here = b.path_and_query().await;
            assert!(here.contains("filters=") && here.contains("EXPIRES_AT_ASC"), "{here}");
            b.shot("grants").await;
            b.client.set_window_size(390, 844).await.unwrap();
            b.shot("grants-phone").await;
            b.client.set_window_size(1280, 1000).await.unwrap();
            // Every operator of the API is offered for an attribute it fits.
            let ops = b.js("return [...document.querySelectorAll('#filters .filter:nth-child(1) .f-operator option')].map(o => o.value)").await;
            for op in ["EQUALS", "NOT_EQUALS", "IS_EXACTLY", "IN", "IS_ANY_OF", "NOT_IN", "IS_NOT_ANY_OF", "CONTAINS", "NOT_CONTAINS", "TEXT_CONTAINS", "TEXT_DOES_NOT_CONTAINS", "STARTS_WITH", "ENDS_WITH"] {
                assert!(ops.as_array().unwrap().contains(&json!(op)), "{op} in {ops}");
            }
            b.click("#bulk-revoke").await;
            b.text_with("#bulk-count", "This will revoke 3 grants").await;
            b.typed("#bulk-reason", "offboarding bob").await;
            b.click("#bulk-confirm").await;
            b.text_with("#bulk-result", "Revoked 3 grants").await;
            // The shared address, opened afresh, shows them revoked; alice's is untouched.
            b.goto(&here).await;
            b.text_with("#grant-results", "REVOKED").await;
            let statuses = b.js("return [...document.querySelectorAll('#grant-results tbody .badge')].map(e => e.textContent)").await;
            assert_eq!(statuses, json!(["REVOKED", "REVOKED", "REVOKED"]));
            let r = send(&w.s, &admin, &w.t, Method::GET, &format!("/v1/grants/{}", w.grant), None).await;
            assert_eq!(r.body["status"], "GRANTED");
            // A filter the API refuses: its code and message.
            b.goto("/console/grants?filters=%5B%7B%22attribute%22%3A%22expires_at%22%2C%22operator%22%3A%22IS_WITHIN%22%2C%22values%22%3A%5B%22soon%22%5D%7D%5D").await;
            let err = b.text_with("#grant-results .error", "invalid_input").await;
            assert!(err.contains("IS_WITHIN"), "{err}");
        }.boxed()).await;
    }

    /// The editor sends what the person changed and keeps the rest as it was stored:
    /// ordinals, ids with spaces, notices over several lines, conditions' whitespace.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_editor_keeps_what_was_not_changed() {
        let w = world().await;
        let admin = w.t.admin_key.clone();
        let r = send(&w.s, &admin, &w.t, Method::POST, "/v1/policies", Some(json!({
            "key": "odd", "name": "Odd", "priority": 3, "max_duration_seconds": 600,
            "description": "kept", "notification_channel": "#access", "covers_descendants": true,
            "rules": [
                {"ordinal": 10, "effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
                 "principal_entity_id": " alice ", "action_scope_type": "eq", "action_ids": ["request"],
                 "resource_scope_type": "any", "notice": "line one\nline two\n  indented",
                 "conditions": "  when { context.reason != \"\" }\n", "audit_session": true},
                {"ordinal": 20, "effect": "forbid", "principal_scope_type": "any", "action_scope_type": "any",
                 "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "billing"}
            ]}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let before = r.body.clone();
        let id = before["id"].as_str().unwrap().to_string();
        Browser::with(&w.s.base.clone(), module_path!(), |b| async move {
            b.sign_in(&admin, &w.t, None).await;
            b.goto(&format!("/console/policies/{id}")).await;
            b.click("#edit").await;
            b.typed("#e-priority", "7").await;
            b.click("#save").await;
            b.text_with("#policy-name", "Odd").await;
            let started = Instant::now();
            let after = loop {
                let r = send(&w.s, &admin, &w.t, Method::GET, &format!("/v1/policies/{id}"), None).await;
                if r.body["version"] == 2 || started.elapsed() > PATIENCE {
                    break r.body;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(after["version"], 2);
            assert_eq!(after["priority"], 7);
            for field in ["name", "description", "notification_channel", "covers_descendants", "max_duration_seconds", "rules", "cedar_policy_set", "enabled"] {
                assert_eq!(after[field], before[field], "{field} is kept");
            }
        }.boxed()).await;
    }

    /// An approver's queue holds the request waiting for them; approving it from there
    /// makes the grant active.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn approver_approves_from_the_queue() {
        let w = world().await;
        let admin = w.t.admin_key.clone();
        let r = send(&w.s, &admin, &w.t, Method::POST, "/v1/policies", Some(json!({
            "key": "billing", "name": "Billing", "max_duration_seconds": 7200,
            "approval": {"approvers": {"type": "Group", "id": "sales-leads"}, "count": 1, "timeout_seconds": 3600},
            "rules": [
                {"effect": "permit", "principal_scope_type": "any", "action_scope_type": "eq",
                 "action_ids": ["request"], "resource_scope_type": "eq", "resource_entity_type": "App",
                 "resource_entity_id": "billing"},
                {"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
                 "principal_entity_id": "sales-leads", "action_scope_type": "eq", "action_ids": ["approve"],
                 "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "billing"}
            ]}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = request(&w.s, &w.t, &w.requester, "alice", "billing").await;
        assert_eq!(r.body["status"], "PENDING_APPROVAL", "{}", r.text);
        let pending = r.body["id"].as_str().unwrap().to_string();
        let requester = w.requester.clone();
        Browser::with(&w.s.base.clone(), module_path!(), |b| async move {
            b.sign_in(&requester, &w.t, Some("lead")).await;
            b.goto("/console/approvals").await;
            let queue = b.text_with("#approval-results", "billing").await;
            assert!(queue.contains("0 of 1") && queue.contains("ticket 42"), "{queue}");
            b.shot("approvals").await;
            b.click("#approval-results .approve").await;
            b.text_with("#approval-results .ok-box", "Approved").await;
            let r = send(&w.s, &requester, &w.t, Method::GET, &format!("/v1/grants/{pending}"), None).await;
            assert_eq!(r.body["status"], "GRANTED", "{}", r.text);
            assert_eq!(r.body["granted_by"], "lead");
        }.boxed()).await;
    }
}

/// The console's pages carry the strict policy and are served from the binary alone.
#[tokio::test]
async fn console_pages_are_served_with_a_strict_policy() {
    let s = TestServer::start().await;
    for path in [
        "/console",
        "/console/",
        "/console/grants/x?filters=%5B%5D",
        "/console/assets/app.js",
        "/console/assets/style.css",
    ] {
        let r = s
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        for part in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "require-trusted-types-for 'script'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let etag = r.headers()["etag"].clone();
        let again = s
            .client
            .get(format!("{}{path}", s.base))
            .header("If-None-Match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let r = s
        .client
        .get(format!("{}/console/assets/app.js", s.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let page = s
        .client
        .get(format!("{}/console/", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("<script>") && !page.contains("http"),
        "no inline script, nothing from elsewhere"
    );
    let r = s
        .client
        .get(format!("{}/console/assets/nope.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
}

/// `/docs` and every file it references come from grantd alone, under a policy that lets
/// the page load and call nothing else.
#[tokio::test]
async fn docs_are_served_from_the_binary_alone() {
    let s = TestServer::start().await;
    let r = s
        .client
        .get(format!("{}/docs/", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self';")
            && csp.contains("connect-src 'self';"),
        "{csp}"
    );
    assert!(!csp.contains("http"), "no other origin is allowed: {csp}");
    let page = r.text().await.unwrap();
    let mut assets: Vec<String> = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in page.split(attr).skip(1) {
            assets.push(part.split('"').next().unwrap().to_string());
        }
    }
    assert!(assets.len() >= 4, "{assets:?}");
    for a in &assets {
        assert!(!a.contains("//"), "{a} is on this server");
        let url = format!("{}/docs/{}", s.base, a.trim_start_matches("./"));
        let r = s.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert!(!r.bytes().await.unwrap().is_empty(), "{url}");
    }
    // A missing file's 404 keeps the page's policy.
    let r = s
        .client
        .get(format!("{}/docs/nope.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let init = s
        .client
        .get(format!("{}/docs/swagger-initializer.js", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"/openapi.json\""), "{init}");
}

backends! {
    /// In a browser, `/docs` renders the API's operations with nothing loaded from
    /// elsewhere (every resource the page fetched is on this server).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn docs_render_in_a_browser_from_the_server_alone() {
        let s = TestServer::start().await;
        let base = s.base.clone();
        Browser::with(&s.base.clone(), module_path!(), |b| async move {
            b.goto("/docs").await;
            b.text_with("#swagger-ui", "/v1/authorize").await;
            let origins = b.js("return [...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).origin))]").await;
            assert_eq!(origins, json!([base]), "every resource from grantd");
            b.shot("docs").await;
        }.boxed()).await;
    }
}
