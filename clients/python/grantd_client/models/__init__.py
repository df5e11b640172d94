"""Contains all the data models used in inputs/outputs"""

from .access_check_body import AccessCheckBody
from .access_check_result import AccessCheckResult
from .action_scope_type import ActionScopeType
from .actor import Actor
from .applied import Applied
from .approval_body import ApprovalBody
from .approval_decision import ApprovalDecision
from .approval_requirement import ApprovalRequirement
from .approval_state import ApprovalState
from .approval_vote import ApprovalVote
from .audit_event import AuditEvent
from .authorize_request import AuthorizeRequest
from .authorize_request_context_type_0 import AuthorizeRequestContextType0
from .authorize_request_entities_type_0_item import AuthorizeRequestEntitiesType0Item
from .batch_body import BatchBody
from .batch_request import BatchRequest
from .bulk_revoke_body import BulkRevokeBody
from .bulk_revoke_result import BulkRevokeResult
from .case import Case
from .case_context_type_0 import CaseContextType0
from .case_entities_type_0_item import CaseEntitiesType0Item
from .case_result import CaseResult
from .change_body import ChangeBody
from .change_body_body_type_0 import ChangeBodyBodyType0
from .create_key import CreateKey
from .created_key import CreatedKey
from .created_webhook import CreatedWebhook
from .decision_body import DecisionBody
from .decision_counts import DecisionCounts
from .decision_flip import DecisionFlip
from .decision_impact import DecisionImpact
from .delivery import Delivery
from .delivery_page import DeliveryPage
from .delivery_payload import DeliveryPayload
from .delivery_status import DeliveryStatus
from .determining import Determining
from .effect import Effect
from .entity_list import EntityList
from .entity_ref import EntityRef
from .error_body import ErrorBody
from .event_content import EventContent
from .event_content_request import EventContentRequest
from .event_kind import EventKind
from .event_list import EventList
from .extend_body import ExtendBody
from .extend_body_context_type_0 import ExtendBodyContextType0
from .found import Found
from .grant import Grant
from .grant_change import GrantChange
from .grant_counts import GrantCounts
from .grant_decision import GrantDecision
from .grant_impact import GrantImpact
from .grant_page import GrantPage
from .grant_status import GrantStatus
from .health import Health
from .key_info import KeyInfo
from .key_list import KeyList
from .limit import Limit
from .on_change import OnChange
from .outcome import Outcome
from .policy import Policy
from .policy_create import PolicyCreate
from .policy_list import PolicyList
from .policy_patch import PolicyPatch
from .policy_set_version_body import PolicySetVersionBody
from .policy_written import PolicyWritten
from .preview import Preview
from .preview_body import PreviewBody
from .preview_body_body_type_0 import PreviewBodyBodyType0
from .put_entities_body_item import PutEntitiesBodyItem
from .quota_update import QuotaUpdate
from .quota_view import QuotaView
from .raw_filter import RawFilter
from .raw_value import RawValue
from .raw_value_value import RawValueValue
from .reevaluation import Reevaluation
from .reevaluation_status import ReevaluationStatus
from .report import Report
from .request_body import RequestBody
from .request_body_context_type_0 import RequestBodyContextType0
from .revoke_body import RevokeBody
from .role import Role
from .rule import Rule
from .rule_input import RuleInput
from .schema_body import SchemaBody
from .schema_written import SchemaWritten
from .scope_type import ScopeType
from .settings import Settings
from .subject import Subject
from .test_body import TestBody
from .update_body import UpdateBody
from .update_body_context_type_0 import UpdateBodyContextType0
from .updated import Updated
from .upserted import Upserted
from .verify_report import VerifyReport
from .waiting_page import WaitingPage
from .warning import Warning_
from .webhook import Webhook
from .webhook_create import WebhookCreate
from .webhook_list import WebhookList

__all__ = (
    "AccessCheckBody",
    "AccessCheckResult",
    "ActionScopeType",
    "Actor",
    "Applied",
    "ApprovalBody",
    "ApprovalDecision",
    "ApprovalRequirement",
    "ApprovalState",
    "ApprovalVote",
    "AuditEvent",
    "AuthorizeRequest",
    "AuthorizeRequestContextType0",
    "AuthorizeRequestEntitiesType0Item",
    "BatchBody",
    "BatchRequest",
    "BulkRevokeBody",
    "BulkRevokeResult",
    "Case",
    "CaseContextType0",
    "CaseEntitiesType0Item",
    "CaseResult",
    "ChangeBody",
    "ChangeBodyBodyType0",
    "CreateKey",
    "CreatedKey",
    "CreatedWebhook",
    "DecisionBody",
    "DecisionCounts",
    "DecisionFlip",
    "DecisionImpact",
    "Delivery",
    "DeliveryPage",
    "DeliveryPayload",
    "DeliveryStatus",
    "Determining",
    "Effect",
    "EntityList",
    "EntityRef",
    "ErrorBody",
    "EventContent",
    "EventContentRequest",
    "EventKind",
    "EventList",
    "ExtendBody",
    "ExtendBodyContextType0",
    "Found",
    "Grant",
    "GrantChange",
    "GrantCounts",
    "GrantDecision",
    "GrantImpact",
    "GrantPage",
    "GrantStatus",
    "Health",
    "KeyInfo",
    "KeyList",
    "Limit",
    "OnChange",
    "Outcome",
    "Policy",
    "PolicyCreate",
    "PolicyList",
    "PolicyPatch",
    "PolicySetVersionBody",
    "PolicyWritten",
    "Preview",
    "PreviewBody",
    "PreviewBodyBodyType0",
    "PutEntitiesBodyItem",
    "QuotaUpdate",
    "QuotaView",
    "RawFilter",
    "RawValue",
    "RawValueValue",
    "Reevaluation",
    "ReevaluationStatus",
    "Report",
    "RequestBody",
    "RequestBodyContextType0",
    "RevokeBody",
    "Role",
    "Rule",
    "RuleInput",
    "SchemaBody",
    "SchemaWritten",
    "ScopeType",
    "Settings",
    "Subject",
    "TestBody",
    "UpdateBody",
    "UpdateBodyContextType0",
    "Updated",
    "Upserted",
    "VerifyReport",
    "WaitingPage",
    "Warning_",
    "Webhook",
    "WebhookCreate",
    "WebhookList",
)
