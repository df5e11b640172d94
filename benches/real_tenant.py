"""Seeds a benchmark tenant shaped like a real one, through grantd's API, and writes the
request bodies the latency benchmark sends (used by benches/latency.sh).

    python3 benches/real_tenant.py PORT TENANT_ID API_KEY RULES_PER_POLICY OUT_DIR

The tenant: ~1,490 entities (5 divisions > 25 departments > 100 teams as nested groups;
1,000 users, each in two teams and with a department attribute; 60 apps with 5
entitlements each) and 10 policies of RULES_PER_POLICY rules (100 for the 1,000-rule
tenant, 10 for the same tenant cut to 100 rules). Rules permit departments or teams (one in ten: a
department, on one entitlement, with a condition on the user's department) to request
and extend an app with conditions on the context; one rule in ten forbids a user an app
with a notice, or forbids long requests. Policy p's first 10 rules cover apps 3p..3p+2,
which the requests below ask for; its other rules cover the same teams and users on
apps 30..59, which the requests never name (as most of a real tenant's rules are about
other resources than any one request's). So the 1,000-rule tenant and its 100-rule cut
decide every request alike, and comparing them measures what the rule count costs.

OUT_DIR receives, one JSON body per line:
  authorize.jsonl  2,000 distinct authorize requests (users, apps and entitlements, scopes,
                   reasons and durations varied; allowed and denied ones mixed);
  grants.jsonl     grant requests this tenant permits (from the allowed ones above);
  check.jsonl      access checks of grants created here (and of pairs without one).
It prints the share of allowed requests.
"""
import json
import os
import sys
import urllib.error
import urllib.request

port, tenant, key, per_policy, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
H = {"X-API-Key": key, "X-Tenant-ID": tenant, "Content-Type": "application/json"}


def call(method, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), H, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read()[:2000]!r}")


def uid(t, i):
    return {"type": t, "id": i}


USERS, TEAMS, DEPTS, DIVS, APPS, ENTS_PER_APP = 1000, 100, 25, 5, 60, 5
ASKED_APPS = 30  # the requests name apps 0..29 (and their entitlements) only
ents = [{"uid": uid("Group", f"div{i}"), "attrs": {}, "parents": []} for i in range(DIVS)]
ents += [{"uid": uid("Group", f"dept{i}"), "attrs": {}, "parents": [uid("Group", f"div{i % DIVS}")]} for i in range(DEPTS)]
ents += [{"uid": uid("Group", f"team{i}"), "attrs": {}, "parents": [uid("Group", f"dept{i % DEPTS}")]} for i in range(TEAMS)]
ents += [{"uid": uid("App", f"app{i}"), "attrs": {}, "parents": []} for i in range(APPS)]
ents += [{"uid": uid("Entitlement", f"ent{i}"), "attrs": {}, "parents": [uid("App", f"app{i // ENTS_PER_APP}")]}
         for i in range(APPS * ENTS_PER_APP)]
ents += [{"uid": uid("User", f"u{i}"), "attrs": {"department": f"d{i % DEPTS}", "email": f"u{i}@example.com"},
          "parents": [uid("Group", f"team{i % TEAMS}"), uid("Group", f"team{(i * 7 + 3) % TEAMS}")]}
         for i in range(USERS)]
for i in range(0, len(ents), 1000):
    call("PUT", "/v1/entities", ents[i:i + 1000])

for p in range(10):
    rules = []
    for j in range(per_policy):
        # the first 10 rules of each policy: every team once over the 10 policies
        k = p * 10 + j if j < 10 else p * 100 + j
        a = 3 * p + k % 3 + (0 if j < 10 else ASKED_APPS)
        app = f"app{a}"
        if j % 10 == 9 and j % 20 == 19:
            rules.append({"effect": "forbid", "principal_scope_type": "eq", "principal_entity_type": "User",
                          "principal_entity_id": f"u{(k * 13) % USERS}", "action_scope_type": "any",
                          "resource_scope_type": "in", "resource_entity_type": "App", "resource_entity_id": app,
                          "notice": f"u{(k * 13) % USERS} may not use {app}"})
        elif j % 10 == 9:
            rules.append({"effect": "forbid", "principal_scope_type": "in", "principal_entity_type": "Group",
                          "principal_entity_id": f"div{k % DIVS}", "action_scope_type": "in", "action_ids": ["request"],
                          "resource_scope_type": "in", "resource_entity_type": "App", "resource_entity_id": app,
                          "conditions": "when { context has duration_seconds && context.duration_seconds > 28800 }",
                          "notice": "at most 8 hours at a time"})
        elif j % 10 == 4:
            ent = f"ent{a * ENTS_PER_APP + k % ENTS_PER_APP}"
            rules.append({"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
                          "principal_entity_id": f"dept{k % DEPTS}", "action_scope_type": "in",
                          "action_ids": ["request", "extend"], "resource_scope_type": "eq",
                          "resource_entity_type": "Entitlement", "resource_entity_id": ent,
                          "conditions": f"when {{ principal has department && principal.department == \"d{k % DEPTS}\" "
                                        f"&& context.reason != \"\" }}"})
        else:
            # the requests' rules name departments (so about a fifth of them are allowed),
            # the others teams
            group = f"dept{k % DEPTS}" if j < 10 else f"team{k % TEAMS}"
            rules.append({"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
                          "principal_entity_id": group, "action_scope_type": "in",
                          "action_ids": ["request", "extend"], "resource_scope_type": "in",
                          "resource_entity_type": "App", "resource_entity_id": app,
                          "conditions": "when { context.scopes.containsAll([\"read\"]) && context.reason != \"\" }"})
    call("POST", "/v1/policies", {"key": f"domain{p}", "name": f"domain {p}", "priority": p,
                                  "max_duration_seconds": 86400, "default_duration_seconds": 3600, "rules": rules})

os.makedirs(out, exist_ok=True)
authorize, allowed = [], []
for i in range(2000):
    user = f"u{(i * 37) % USERS}"
    a = (i * 11) % ASKED_APPS
    if i % 3 == 2:
        resource = uid("Entitlement", f"ent{a * ENTS_PER_APP + i % ENTS_PER_APP}")
    else:
        resource = uid("App", f"app{a}")
    ctx = {"scopes": ["read"] if i % 4 else ["read", "write"], "reason": "" if i % 17 == 0 else f"ticket {i}",
           "extension_count": 0}
    if i % 5:
        ctx["duration_seconds"] = 3600 if i % 7 else 36000
        ctx["total_duration_seconds"] = ctx["duration_seconds"]
    body = {"principal": uid("User", user), "action": uid("Action", "request"), "resource": resource, "context": ctx}
    authorize.append(body)
    if call("POST", "/v1/authorize", body)["decision"] == "allow":
        allowed.append(body)
assert len(authorize) == len({json.dumps(b, sort_keys=True) for b in authorize}), "requests must be distinct"

grants = [{"principal": b["principal"], "resource": b["resource"], "scopes": b["context"]["scopes"],
           "reason": b["context"]["reason"], **({"duration_seconds": b["context"]["duration_seconds"]}
                                                 if "duration_seconds" in b["context"] else {})} for b in allowed]
checks = []
for g in grants[:200]:
    call("POST", "/v1/grants", g)
    checks.append({"principal": g["principal"], "resource": g["resource"], "scopes": ["read"]})
for i in range(200):
    checks.append({"principal": uid("User", f"u{(i * 53 + 1) % USERS}"), "resource": uid("App", f"app{i % APPS}")})

for name, rows in (("authorize", authorize), ("grants", grants), ("check", checks)):
    with open(os.path.join(out, f"{name}.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
print(f"{len(allowed)} of {len(authorize)} requests allowed ({100 * len(allowed) // len(authorize)}%)")
