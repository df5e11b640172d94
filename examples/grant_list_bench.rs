//! `grants/list` on a large tenant: loads N grants (default 1,000,000) into one tenant of a
//! fresh SQLite file, then times typical dashboard queries through the list service
//! (filter parsing, the SQL of the page and of `total`, the cursor), 25 per page.
//!
//! The population: 20,000 users, 50 apps with 10 entitlements each (grants on an
//! entitlement, one in ten on the app itself), granted uniformly over the last year for 1
//! hour to 90 days, so about one in eight is active now; one in ten revoked; grants that
//! expired more than a day ago already persisted as EXPIRED by the sweeper; 60 % used at some
//! point (`last_used_at`). Another tenant holds 100,000 grants of its own alongside.
//!
//! `cargo run --release --example grant_list_bench -- [grants]`
//! (`GRANTD_BENCH_PAGE_SIZE=4096` to create the database with that page size)

use chrono::{DateTime, Duration, Utc};
use grantd::clock::{format_ts, ManualClock};
use grantd::domain::grant_query::{RawFilter, RawValue};
use grantd::domain::ids::TenantId;
use grantd::service::grant_list::{self, ListQuery};
use grantd::service::Caller;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

#[path = "support/page_size.rs"]
mod page_size;

const USERS: u64 = 20_000;
const APPS: u64 = 50;

/// A small deterministic generator (splitmix64), so every run loads the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn load(pool: &sqlx::SqlitePool, tenant: TenantId, n: u64, now: DateTime<Utc>, seed: u64) {
    let mut rng = Rng(seed);
    let policies: Vec<String> = (0..20).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let batch = 1000;
    let mut done = 0;
    while done < n {
        let rows = batch.min(n - done);
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO grants (tenant_id, id, principal_type, principal_id, resource_type, \
             resource_id, app, scopes, status, policy_id, requested_by, granted_by, reason, \
             granted_at, expires_at, extension_count, last_used_at, revoked_at, revoked_by, \
             revoke_reason, audit_session, notices, created_at, updated_at, version) ",
        );
        q.push_values(0..rows, |mut b, _| {
            let user = rng.below(USERS);
            let app = rng.below(APPS);
            let on_app = rng.below(10) == 0;
            let granted_at = now - Duration::seconds(rng.below(365 * 86_400) as i64);
            let duration = Duration::seconds(3600 + rng.below(90 * 86_400) as i64);
            let mut expires_at = granted_at + duration;
            let revoked = rng.below(10) == 0;
            let extended = !revoked && rng.below(20) == 0;
            if extended {
                expires_at += Duration::days(7);
            }
            let revoked_at = revoked.then(|| {
                granted_at + Duration::seconds(rng.below(duration.num_seconds() as u64) as i64)
            });
            let revoked_at = revoked_at.filter(|t| *t < now);
            let end = revoked_at.unwrap_or(expires_at).min(now);
            let used = rng.below(10) < 6 && end > granted_at;
            let last_used_at = used.then(|| {
                granted_at
                    + Duration::seconds(
                        rng.below((end - granted_at).num_seconds().max(1) as u64) as i64
                    )
            });
            let status = if revoked_at.is_some() {
                "REVOKED"
            } else if expires_at < now - Duration::days(1) {
                "EXPIRED"
            } else if extended {
                "EXTENDED"
            } else {
                "GRANTED"
            };
            let updated_at = revoked_at.unwrap_or(granted_at);
            let scopes = match rng.below(3) {
                0 => "[]",
                1 => "[\"read\"]",
                _ => "[\"read\",\"write\"]",
            };
            let (rtype, rid) = if on_app {
                ("App", format!("app{app:02}"))
            } else {
                ("Entitlement", format!("app{app:02}-ent{}", rng.below(10)))
            };
            b.push_bind(tenant.to_string())
                .push_bind(uuid::Uuid::now_v7().to_string())
                .push_bind("User")
                .push_bind(format!("u{user:05}"))
                .push_bind(rtype)
                .push_bind(rid)
                .push_bind(format!("app{app:02}"))
                .push_bind(scopes)
                .push_bind(status)
                .push_bind(policies[rng.below(20) as usize].clone())
                .push_bind(format!("portal:u{user:05}@example.com"))
                .push_bind(None::<String>)
                .push_bind(format!("ticket-{}", rng.below(1_000_000)))
                .push_bind(format_ts(&granted_at))
                .push_bind(format_ts(&expires_at))
                .push_bind(i64::from(extended))
                .push_bind(last_used_at.as_ref().map(format_ts))
                .push_bind(revoked_at.as_ref().map(format_ts))
                .push_bind(revoked_at.map(|_| "admin-key".to_string()))
                .push_bind(revoked_at.map(|_| "offboarding".to_string()))
                .push_bind(false)
                .push_bind("[]")
                .push_bind(format_ts(&granted_at))
                .push_bind(format_ts(&updated_at))
                .push_bind(1 + i64::from(revoked_at.is_some()) + i64::from(extended));
        });
        q.build().execute(pool).await.expect("insert");
        done += rows;
    }
}

/// A grantd over the benchmark's database. The data is written as the sweeper would have
/// left it; the sweeper is kept still while timing.
async fn open_app(url: &str, clock: Arc<ManualClock>) -> grantd::App {
    let mut config =
        grantd::config::Config::new(url, concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    config.sweep_interval = std::time::Duration::from_secs(86_400);
    grantd::App::open(config, clock).await.expect("app opens")
}

fn f(attribute: &str, operator: &str, values: &[Value]) -> RawFilter {
    RawFilter {
        attribute: attribute.into(),
        operator: operator.into(),
        values: Some(
            values
                .iter()
                .map(|v| RawValue { value: v.clone() })
                .collect(),
        ),
    }
}

fn query(sort: &str, token: Option<String>) -> ListQuery {
    ListQuery {
        sort_order: Some(sort.into()),
        next_page_token: token,
        ..Default::default()
    }
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    // GRANTD_BENCH_DB=<file>: time the queries on a database a previous run kept
    // (GRANTD_BENCH_KEEP=1) instead of loading a new one
    let reuse = std::env::var("GRANTD_BENCH_DB").ok();
    let dir = std::env::temp_dir().join(format!("grantd-grant-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = match &reuse {
        Some(file) => format!("sqlite://{file}"),
        None => {
            page_size::create_if_asked(&dir.join("grants.db"));
            format!("sqlite://{}/grants.db", dir.display())
        }
    };
    let now: DateTime<Utc> = match &reuse {
        // the kept data was written relative to the time of that run
        Some(_) => std::env::var("GRANTD_BENCH_NOW")
            .expect("GRANTD_BENCH_NOW: the time the kept run printed")
            .parse()
            .unwrap(),
        None => Utc::now(),
    };
    println!("now = {}", format_ts(&now));
    let clock = Arc::new(ManualClock::new(now));
    let app = open_app(&url, clock.clone()).await;
    let services = app.state.services.clone();
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/schema.cedarschema"
    ))
    .unwrap();
    // the loader writes without waiting for fsync: a benchmark fixture, not a grant write
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            opts.synchronous(sqlx::sqlite::SqliteSynchronous::Off)
                .pragma("cache_size", "-1000000"),
        )
        .await
        .unwrap();
    let tenant = if reuse.is_some() {
        let (t,): (String,) = sqlx::query_as(
            "SELECT tenant_id FROM grants GROUP BY tenant_id ORDER BY COUNT(*) DESC LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        t.parse().unwrap()
    } else {
        let (tenant, _) =
            grantd::service::tenants::create(&services.store, "bench", schema.clone(), now)
                .await
                .expect("tenant");
        let (other, _) = grantd::service::tenants::create(&services.store, "other", schema, now)
            .await
            .expect("tenant");
        let t0 = Instant::now();
        load(&pool, other, n / 10, now, 7).await;
        load(&pool, tenant, n, now, 42).await;
        println!(
            "loaded {n} grants (+{} in another tenant) in {:.1} s",
            n / 10,
            t0.elapsed().as_secs_f64()
        );
        tenant
    };
    pool.close().await;
    // what the server's hourly statistics refresh would have done by now
    let t0 = Instant::now();
    grantd::store::sqlite::SqliteStore::connect(&url)
        .await
        .expect("store")
        .optimize()
        .await
        .expect("optimize");
    println!(
        "planner statistics refreshed in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // the server's pooled connections read the statistics when they are recycled (within
    // ten minutes); a freshly opened server stands for that here
    drop(services);
    drop(app);
    let app = open_app(&url, clock.clone()).await;
    let services = app.state.services.clone();

    let caller = Caller {
        tenant_id: tenant,
        key_id: grantd::domain::ids::KeyId::new(),
        role: grantd::domain::role::Role::Auditor,
        on_behalf_of: None,
    };
    let active = f("status", "IS_ANY_OF", &[json!("ACTIVE")]);
    let month_ago = format_ts(&(now - Duration::days(30)));
    let cases: Vec<(&str, Vec<RawFilter>, &str, usize)> = vec![
        (
            "ACTIVE, app, expires IS_WITHIN P7D, EXPIRES_AT_ASC, page 1",
            vec![
                active.clone(),
                f("app", "IS_ANY_OF", &[json!("app07")]),
                f("expires_at", "IS_WITHIN", &[json!("P7D")]),
            ],
            "EXPIRES_AT_ASC",
            1,
        ),
        (
            "same, page 10 via next_page_token",
            vec![
                active.clone(),
                f("app", "IS_ANY_OF", &[json!("app07")]),
                f("expires_at", "IS_WITHIN", &[json!("P7D")]),
            ],
            "EXPIRES_AT_ASC",
            10,
        ),
        (
            "unused: last_login_at IS_ON_OR_BEFORE -30d",
            vec![f("last_login_at", "IS_ON_OR_BEFORE", &[json!(month_ago)])],
            "GRANTED_AT_DESC",
            1,
        ),
        (
            "unused and ACTIVE (access review)",
            vec![
                active.clone(),
                f("last_login_at", "IS_ON_OR_BEFORE", &[json!(month_ago)]),
            ],
            "GRANTED_AT_DESC",
            1,
        ),
        (
            "one user's grants",
            vec![f("user", "EQUALS", &[json!("u01234")])],
            "GRANTED_AT_DESC",
            1,
        ),
        (
            "ACTIVE, EXPIRES_AT_ASC, page 1",
            vec![active.clone()],
            "EXPIRES_AT_ASC",
            1,
        ),
        ("no filter, page 1", vec![], "GRANTED_AT_DESC", 1),
        (
            "no filter, page 10 via next_page_token",
            vec![],
            "GRANTED_AT_DESC",
            10,
        ),
    ];
    println!(
        "{:<58} {:>8} {:>8} {:>8} {:>6}",
        "query (25 per page)", "p50 ms", "p99 ms", "total", "items"
    );
    for (name, filters, sort, page) in cases {
        if std::env::var("GRANTD_BENCH_ONLY").is_ok_and(|o| !name.contains(&o)) {
            continue;
        }
        if std::env::var_os("GRANTD_BENCH_EXPLAIN").is_some() {
            let store = grantd::store::sqlite::SqliteStore::connect(&url)
                .await
                .unwrap();
            let conds = grantd::domain::grant_query::parse_filters(&filters, now).unwrap();
            let sort = grantd::domain::grant_query::SortOrder::parse(Some(sort)).unwrap();
            let after = (page > 1).then(|| grantd::domain::grant_query::After {
                sort_value: now,
                id: uuid::Uuid::nil(),
            });
            for via_index in [true, false] {
                println!("    plan walking the sort index: {via_index}");
                for line in store
                    .explain_list(tenant, &conds, sort, after.as_ref(), now, via_index)
                    .await
                    .unwrap()
                {
                    println!("    {line}");
                }
            }
        }
        // the token of page `page - 1`, found once
        let mut token = None;
        for _ in 1..page {
            let p = grant_list::list(&services, &caller, filters.clone(), query(sort, token))
                .await
                .expect("list");
            token = p.next_page_token;
            if token.is_none() {
                break;
            }
        }
        let mut times = Vec::new();
        let (mut total, mut items) = (0, 0);
        for _ in 0..50 {
            let t = Instant::now();
            let p = grant_list::list(
                &services,
                &caller,
                filters.clone(),
                query(sort, token.clone()),
            )
            .await
            .expect("list");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            total = p.total;
            items = p.items.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<58} {:>8.2} {:>8.2} {total:>8} {items:>6}",
            times[24], times[49]
        );
    }
    drop(app);
    if std::env::var_os("GRANTD_BENCH_KEEP").is_some() || reuse.is_some() {
        println!("kept {url}");
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
