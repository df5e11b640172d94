"""A walk through grantd with the Python client: a policy, a grant requested with an
idempotency key, its extension, an access check, the grant's audit events, and a denial's
notices read from the exception.

    python walkthrough.py BASE_URL grantd-bootstrap.json

It writes only names of its own (suffixed with a random run id) and removes what it made
at the end (the audit log keeps its events, as it keeps every change).
"""

import json
import sys
import uuid

from grantd import Grantd, GrantdError
from grantd_client.api.audit import list_audit_events
from grantd_client.api.entities import delete_entity, put_entities
from grantd_client.api.grants import access_check, approvals_waiting, extend_grant, request_grant, revoke_grant
from grantd_client.api.policies import create_policy, delete_policy
from grantd_client.models import AccessCheckBody, ExtendBody, PolicyCreate, PutEntitiesBodyItem, RequestBody, RevokeBody

base, bootstrap = sys.argv[1], sys.argv[2]
boot = json.load(open(bootstrap))
g = Grantd(base, boot["api_key"], boot["tenant_id"], on_behalf_of="portal@example.com")

# The people and the app, and a policy: engineers may have the CRM for up to a day; no
# contractor may, whatever else permits it.
run = uuid.uuid4().hex[:8]
alice, mallory, crm, contractors = f"alice-{run}", f"mallory-{run}", f"crm-{run}", f"contractors-{run}"
entities = [
    {"uid": {"type": "Group", "id": contractors}, "attrs": {}, "parents": []},
    {"uid": {"type": "User", "id": alice}, "attrs": {}, "parents": []},
    {"uid": {"type": "User", "id": mallory}, "attrs": {}, "parents": [{"type": "Group", "id": contractors}]},
    {"uid": {"type": "App", "id": crm}, "attrs": {}, "parents": []},
]
g.call(
    put_entities,
    body=[PutEntitiesBodyItem.from_dict(e) for e in entities],
)
policy = g.call(
    create_policy,
    body=PolicyCreate.from_dict(
        {
            "key": f"crm-{run}",
            "name": "CRM access",
            "max_duration_seconds": 86400,
            "default_duration_seconds": 3600,
            "rules": [
                {"effect": "permit", "principal_scope_type": "any", "action_scope_type": "in",
                 "action_ids": ["request", "extend"], "resource_scope_type": "eq",
                 "resource_entity_type": "App", "resource_entity_id": crm},
                {"effect": "forbid", "principal_scope_type": "in", "principal_entity_type": "Group",
                 "principal_entity_id": contractors, "action_scope_type": "any",
                 "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": crm,
                 "notice": "Contractors may not access the CRM."},
            ],
        }
    ),
)
print(f"policy {policy.key}: version {policy.version}, policy set {policy.policy_set_version}")

# A request with an idempotency key: sent twice, it makes one grant.
ask = RequestBody.from_dict(
    {"principal": {"type": "User", "id": alice}, "resource": {"type": "App", "id": crm},
     "reason": "ticket 42"}
)
key = f"ticket-42-{run}"
grant = g.call(request_grant, body=ask, idempotency_key=key)
again = g.call(request_grant, body=ask, idempotency_key=key)
assert again.id == grant.id, "the retry replays the first answer"
print(f"grant {grant.id}: {grant.status}, expires {grant.expires_at}")

# Extend it to four hours, with If-Match on the version we read.
extended = g.call(
    extend_grant, str(grant.id), body=ExtendBody.from_dict({"duration_seconds": 4 * 3600}),
    if_match=f'"{grant.version}"',
)
print(f"extended: {extended.status}, expires {extended.expires_at}, clamped {extended.clamped}")

# The application's question: does alice hold the CRM now?
check = g.call(
    access_check,
    body=AccessCheckBody.from_dict({"principal": {"type": "User", "id": alice}, "resource": {"type": "App", "id": crm}}),
)
assert check.allowed and check.grant_id == grant.id
print(f"access check: allowed={check.allowed}")

# The grant's audit events, every page of them.
events = list(g.pages(list_audit_events, subject=str(grant.id), per_page=1))
print("audit:", ", ".join(e.kind for e in events))
assert [e.kind for e in events] == ["grant.request", "grant.extend"]

# Nothing waits for alice's approval (a list paged by after/next_after).
assert list(g.pages(approvals_waiting, x_on_behalf_of=alice, limit=10)) == []

# A contractor's request is denied: the exception carries the notices the user should see.
try:
    g.call(request_grant, body=RequestBody.from_dict(
        {"principal": {"type": "User", "id": mallory}, "resource": {"type": "App", "id": crm}}))
    raise SystemExit("mallory's request should have been denied")
except GrantdError as e:
    assert e.status == 403 and e.code == "access_denied", e
    print(f"denied: {e.code}: {e.message}; notices: {e.notices}; deny_reason: {e.details.get('deny_reason')}")
    assert e.notices == ["Contractors may not access the CRM."]

# Clean up: the grant, the policy (refused while it governs an active grant), the entities.
g.call(revoke_grant, str(grant.id), body=RevokeBody.from_dict({"reason": "walkthrough done"}))
g.call(delete_policy, str(policy.id))
for e in entities:
    g.call(delete_entity, e["uid"]["type"], e["uid"]["id"])
g.close()
print("walkthrough passed")
