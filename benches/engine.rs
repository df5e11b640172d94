//! Criterion benchmark of the decision engine: one `evaluate` on a compiled set of N rules
//! (N = 10, 100, 1000) with candidate selection and against every rule; `prepare` plus
//! `evaluate` (a request from its JSON parts, as `/v1/authorize` decides it); the worst
//! request-scoped entities the limits accept (`request_entities`); and compiling a set of N
//! rules. Run: `cargo bench --bench engine`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use grantd::cedar::engine::compile;
use grantd::domain::policy::PolicyCreate;
use grantd::service::decisions::prepare;
use grantd::service::policies::build_new;
use grantd::store::{EntityRow, TenantConfig};
use serde_json::json;
use std::hint::black_box;

fn config(rules: usize) -> TenantConfig {
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/schema.cedarschema"
    ))
    .unwrap();
    let now = chrono::Utc::now();
    // Policies of up to 200 rules: per-user permits on one app each, and a forbid per 10.
    let mut policies = Vec::new();
    for chunk in 0..rules.div_ceil(200) {
        let n = (rules - chunk * 200).min(200);
        let rule_json: Vec<_> = (0..n)
            .map(|j| {
                let i = chunk * 200 + j;
                if i % 10 == 9 {
                    json!({"effect": "forbid", "principal_scope_type": "eq", "principal_entity_type": "User",
                        "principal_entity_id": format!("u{i}"), "action_scope_type": "any",
                        "resource_scope_type": "in", "resource_entity_type": "App", "resource_entity_id": "finance",
                        "notice": "no finance"})
                } else {
                    json!({"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
                        "principal_entity_id": format!("u{i}"), "action_scope_type": "in", "action_ids": ["request", "extend"],
                        "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": format!("app{}", i % 50),
                        "conditions": "when { context.scopes.containsAll([\"read\"]) && context.reason != \"\" }"})
                }
            })
            .collect();
        let body: PolicyCreate = serde_json::from_value(json!({
            "key": format!("p{chunk}"), "name": "bench", "max_duration_seconds": 3600, "rules": rule_json
        }))
        .unwrap();
        let built = build_new(&body, now);
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        policies.push(built.policy);
    }
    let mut entities = vec![EntityRow {
        etype: "App".into(),
        id: "finance".into(),
        body: json!({"uid": {"type": "App", "id": "finance"}, "attrs": {}, "parents": []})
            .to_string(),
    }];
    for i in 0..50 {
        entities.push(EntityRow {
            etype: "App".into(),
            id: format!("app{i}"),
            body:
                json!({"uid": {"type": "App", "id": format!("app{i}")}, "attrs": {}, "parents": []})
                    .to_string(),
        });
    }
    for i in 0..rules.max(10) {
        entities.push(EntityRow {
            etype: "User".into(),
            id: format!("u{i}"),
            body:
                json!({"uid": {"type": "User", "id": format!("u{i}")}, "attrs": {}, "parents": []})
                    .to_string(),
        });
    }
    TenantConfig {
        revision: 1,
        cedarschema: schema,
        policies,
        entities,
    }
}

fn request(set: &grantd::cedar::engine::CompiledSet) -> cedar_policy::Request {
    use std::str::FromStr;
    let action = cedar_policy::EntityUid::from_str("Action::\"request\"").unwrap();
    let ctx = cedar_policy::Context::from_json_value(
        json!({"scopes": ["read"], "reason": "incident", "extension_count": 0}),
        Some((&set.schema, &action)),
    )
    .unwrap();
    cedar_policy::Request::new(
        cedar_policy::EntityUid::from_str("User::\"u3\"").unwrap(),
        action,
        cedar_policy::EntityUid::from_str("App::\"app3\"").unwrap(),
        ctx,
        Some(&set.schema),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("evaluate");
    for n in [10, 100, 1000] {
        let set = compile(config(n)).unwrap();
        let req = request(&set);
        assert!(set.evaluate(&req, &set.entities).allowed);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(set.evaluate(black_box(&req), &set.entities)))
        });
    }
    g.finish();
    // A request as `/v1/authorize` receives it: its parts turned into a Cedar request
    // checked against the schema (`prepare`), then evaluated.
    let mut g = c.benchmark_group("prepare_and_evaluate");
    let r = |t: &str, id: &str| grantd::domain::decision::EntityRef {
        etype: t.into(),
        id: id.into(),
    };
    let (principal, action, resource) = (r("User", "u3"), r("Action", "request"), r("App", "app3"));
    let context = json!({"scopes": ["read"], "reason": "incident", "extension_count": 0});
    for n in [100, 1000] {
        let set = compile(config(n)).unwrap();
        let decide = || {
            let p = prepare(
                &set,
                &principal,
                &action,
                &resource,
                Some(&context),
                None,
                "",
            )
            .unwrap();
            set.evaluate(&p.request, &p.entities)
        };
        assert!(decide().allowed);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(decide()))
        });
    }
    g.finish();
    // The same requests against every rule (no candidate selection), for comparison.
    let mut g = c.benchmark_group("evaluate_all_rules");
    for n in [10, 100, 1000] {
        let set = compile(config(n)).unwrap();
        let req = request(&set);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(set.evaluate_all(black_box(&req), &set.entities)))
        });
    }
    g.finish();
    // The worst request-scoped entities the limits accept (100 per request, ancestry depth
    // 32), added to a store of 1,000 users and 51 apps: three chains of 32 groups; 32
    // layers of three groups, each the child of every group of the layer above; and two
    // layers of 50, each of the lower the child of every upper one (2,500 edges).
    let mut g = c.benchmark_group("request_entities");
    let set = compile(config(1000)).unwrap();
    let grp = |id: String, parents: Vec<String>| {
        let parents: Vec<_> = parents
            .into_iter()
            .map(|p| json!({"type": "Group", "id": p}))
            .collect();
        json!({"uid": {"type": "Group", "id": id}, "attrs": {}, "parents": parents})
    };
    let user = |parents: Vec<String>| {
        let parents: Vec<_> = parents
            .into_iter()
            .map(|p| json!({"type": "Group", "id": p}))
            .collect();
        json!({"uid": {"type": "User", "id": "visitor"}, "attrs": {}, "parents": parents})
    };
    let chains: Vec<_> = ["a", "b", "c"]
        .iter()
        .flat_map(|c| {
            (0..32).map(move |i| {
                let parents = if i == 0 {
                    vec![]
                } else {
                    vec![format!("{c}{}", i - 1)]
                };
                (format!("{c}{i}"), parents)
            })
        })
        .map(|(id, ps)| grp(id, ps))
        .chain([user(vec!["a31".into(), "b31".into(), "c31".into()])])
        .collect();
    let layered: Vec<_> = (0..32)
        .flat_map(|layer| {
            (0..3).map(move |k| {
                let parents = if layer == 0 {
                    vec![]
                } else {
                    (0..3).map(|j| format!("l{}_{j}", layer - 1)).collect()
                };
                (format!("l{layer}_{k}"), parents)
            })
        })
        .map(|(id, ps)| grp(id, ps))
        .chain([user((0..3).map(|j| format!("l31_{j}")).collect())])
        .collect();
    let upper: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
    let wide: Vec<_> = upper
        .iter()
        .map(|id| grp(id.clone(), vec![]))
        .chain((0..49).map(|i| grp(format!("x{i}"), upper.clone())))
        .chain([user(upper.clone())])
        .collect();
    let visitor = r("User", "visitor");
    for (name, list) in [("chains", chains), ("layered", layered), ("wide", wide)] {
        assert!(
            list.len() <= grantd::cedar::limits::MAX_REQUEST_ENTITIES,
            "{name}"
        );
        let decide = || {
            let p = prepare(
                &set,
                &visitor,
                &action,
                &resource,
                Some(&context),
                Some(&list),
                "",
            )
            .unwrap();
            set.evaluate(&p.request, &p.entities)
        };
        decide();
        g.bench_function(name, |b| b.iter(|| black_box(decide())));
    }
    g.finish();
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    for n in [100, 1000] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_batched(
                || config(n),
                |cfg| black_box(compile(cfg).unwrap()),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
