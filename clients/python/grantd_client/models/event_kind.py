from enum import StrEnum


class EventKind(StrEnum):
    AUTHORIZE = "authorize"
    AUTH_TENANT_MISMATCH = "auth.tenant_mismatch"
    ENTITIES_DELETE = "entities.delete"
    ENTITIES_UPDATE = "entities.update"
    GRANT_APPROVAL_EXPIRE = "grant.approval_expire"
    GRANT_APPROVE = "grant.approve"
    GRANT_DENY = "grant.deny"
    GRANT_EXPIRE = "grant.expire"
    GRANT_EXTEND = "grant.extend"
    GRANT_REEVALUATE = "grant.reevaluate"
    GRANT_REQUEST = "grant.request"
    GRANT_REVOKE = "grant.revoke"
    GRANT_UPDATE = "grant.update"
    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"
    POLICY_CREATE = "policy.create"
    POLICY_DELETE = "policy.delete"
    POLICY_UPDATE = "policy.update"
    SCHEMA_UPDATE = "schema.update"
    SETTINGS_UPDATE = "settings.update"
    TENANT_QUOTA = "tenant.quota"
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_DELETE = "webhook.delete"
    WEBHOOK_RETRY = "webhook.retry"

    def __str__(self) -> str:
        return str(self.value)
