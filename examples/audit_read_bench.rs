//! Reads of the audit log on a large tenant: loads N events (default 1,000,000: decisions of
//! 1,000 users over 30 days, a third of them denials) into a fresh SQLite file through the
//! real append path, then times typical auditor queries through the store.
//!
//! `cargo run --release --example audit_read_bench -- [events]`
//! (`GRANTD_BENCH_PAGE_SIZE=4096` to create the database with that page size)

use chrono::{Duration, Utc};
use grantd::domain::audit::{Actor, Determining, EventKind, NewEvent, Subject};
use grantd::store::{self, EventFilter, KeyRecord, NewTenant};
use std::time::Instant;

#[path = "support/page_size.rs"]
mod page_size;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile_dir();
    let url = format!("sqlite://{}/audit.db", dir.display());
    page_size::create_if_asked(&dir.join("audit.db"));
    let store = store::open(&url).await.expect("store");
    let now = Utc::now();
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/schema.cedarschema"
    ))
    .unwrap();
    let tenant = grantd::domain::ids::TenantId::new();
    let start = now - Duration::days(30);
    // The tenant (and its first event) is as old as the history loaded after it.
    let (key, _) = grantd::service::keys::new_key(grantd::domain::role::Role::Admin, None, start);
    let key = KeyRecord {
        tenant_id: tenant,
        ..key
    };
    store
        .create_tenant(
            &NewTenant {
                id: tenant,
                name: "bench".into(),
                cedarschema: schema,
                created_at: start,
                only_if_first: false,
            },
            &key,
            grantd::service::keys::create_event(Actor::cli(), &key),
        )
        .await
        .expect("tenant");

    let t0 = Instant::now();
    let batch = 5_000;
    for chunk in 0..n.div_ceil(batch) {
        let events = (chunk * batch..((chunk + 1) * batch).min(n))
            .map(|i| {
                let at = start + Duration::milliseconds((i as i64) * 30 * 86_400_000 / n as i64);
                let deny = i % 3 == 0;
                let mut e = NewEvent::new(
                    at,
                    Actor {
                        key_id: "portal".into(),
                        role: "requester".into(),
                        on_behalf_of: None,
                    },
                    EventKind::Authorize,
                    Subject::new("principal", format!("User::\"u{}\"", i % 1000)),
                );
                e.decision = Some(if deny { "deny" } else { "allow" }.into());
                e.deny_reason = deny.then(|| "forbid".into());
                e.determining = Some(vec![Determining {
                    policy_id: "p".into(),
                    rule_id: format!("r{}", i % 50),
                    effect: if deny { "forbid" } else { "permit" }.into(),
                }]);
                e.notices = Some(if deny {
                    vec!["not for you".into()]
                } else {
                    vec![]
                });
                e.policy_set_version = Some(1);
                (tenant, e)
            })
            .collect();
        store.append_events(events).await.expect("append");
    }
    println!("loaded {n} events in {:.1} s", t0.elapsed().as_secs_f64());

    let week_ago = now - Duration::days(7);
    let queries: Vec<(&str, EventFilter)> = vec![
        ("first page, no filter", EventFilter::default()),
        (
            "one user's events",
            EventFilter {
                subject: Some("User::\"u42\"".into()),
                ..Default::default()
            },
        ),
        (
            "one user's denials in the last week",
            EventFilter {
                subject: Some("User::\"u42\"".into()),
                decision: Some("deny".into()),
                since: Some(week_ago),
                ..Default::default()
            },
        ),
        (
            "kind = authorize",
            EventFilter {
                kind: Some("authorize".into()),
                ..Default::default()
            },
        ),
        (
            "kind = key.create (rare)",
            EventFilter {
                kind: Some("key.create".into()),
                ..Default::default()
            },
        ),
        (
            "since last week",
            EventFilter {
                since: Some(week_ago),
                ..Default::default()
            },
        ),
    ];
    println!(
        "{:<40} {:>10} {:>10} {:>6}",
        "query (25 per page)", "p50 ms", "p99 ms", "items"
    );
    for (name, f) in queries {
        let mut times = Vec::new();
        let mut items = 0;
        for _ in 0..50 {
            let t = Instant::now();
            items = store
                .list_events(tenant, &f, None, 26)
                .await
                .expect("list")
                .len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<40} {:>10.2} {:>10.2} {items:>6}",
            times[24], times[49]
        );
    }
    let t = Instant::now();
    let report = store.verify_chain(tenant).await.expect("verify");
    println!(
        "verify of {} events: {:.1} s, ok = {}",
        report.events,
        t.elapsed().as_secs_f64(),
        report.ok
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("grantd-audit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
