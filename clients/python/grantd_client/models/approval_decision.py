from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.grant_status import GrantStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.approval_state import ApprovalState
    from ..models.determining import Determining
    from ..models.entity_ref import EntityRef


T = TypeVar("T", bound="ApprovalDecision")


@_attrs_define
class ApprovalDecision:
    """The answer of approve and deny: the grant after the decision.

    Attributes:
        audit_session (bool):
        created_at (datetime.datetime):
        expires_at (datetime.datetime):
        extension_count (int):
        grant_type (str): `PREAPPROVED` (active as soon as a policy permits it) or `APPROVAL_REQUIRED` (its
            governing policy asked for approval: PENDING_APPROVAL until its approvers approve).
        granted_at (datetime.datetime):
        id (UUID):
        notices (list[str]):
        policy_id (UUID):
        principal (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        resource (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        scopes (list[str]):
        status (GrantStatus):
        updated_at (datetime.datetime):
        version (int):
        activated (bool): Whether this approval activated the grant (the approvals reached the required count).
        clamped (bool): Whether the grant's duration was cut to its governing policy's maximum at activation.
        determining (list[Determining]): The rules that determined the approver's decision (`approve` or
            `self_approve`).
        app (None | str | Unset): The resource if it is an `App`, else its nearest `App` ancestor, else null.
        approval (ApprovalState | None | Unset):
        granted_by (None | str | Unset):
        last_used_at (datetime.datetime | None | Unset):
        policy_key (None | str | Unset):
        reason (None | str | Unset):
        requested_by (None | str | Unset):
        review_required (bool | Unset): A re-evaluation after a configuration change found that the policies no longer
            allow this grant (tenant setting `on_change`: `flag` or `clamp`); cleared when a
            later re-evaluation or decision (an extension, a scope change) allows it again.
        revoke_reason (None | str | Unset):
        revoked_at (datetime.datetime | None | Unset):
        revoked_by (None | str | Unset):
    """

    audit_session: bool
    created_at: datetime.datetime
    expires_at: datetime.datetime
    extension_count: int
    grant_type: str
    granted_at: datetime.datetime
    id: UUID
    notices: list[str]
    policy_id: UUID
    principal: EntityRef
    resource: EntityRef
    scopes: list[str]
    status: GrantStatus
    updated_at: datetime.datetime
    version: int
    activated: bool
    clamped: bool
    determining: list[Determining]
    app: None | str | Unset = UNSET
    approval: ApprovalState | None | Unset = UNSET
    granted_by: None | str | Unset = UNSET
    last_used_at: datetime.datetime | None | Unset = UNSET
    policy_key: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    requested_by: None | str | Unset = UNSET
    review_required: bool | Unset = UNSET
    revoke_reason: None | str | Unset = UNSET
    revoked_at: datetime.datetime | None | Unset = UNSET
    revoked_by: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.approval_state import ApprovalState

        audit_session = self.audit_session

        created_at = self.created_at.isoformat()

        expires_at = self.expires_at.isoformat()

        extension_count = self.extension_count

        grant_type = self.grant_type

        granted_at = self.granted_at.isoformat()

        id = str(self.id)

        notices = self.notices

        policy_id = str(self.policy_id)

        principal = self.principal.to_dict()

        resource = self.resource.to_dict()

        scopes = self.scopes

        status = self.status.value

        updated_at = self.updated_at.isoformat()

        version = self.version

        activated = self.activated

        clamped = self.clamped

        determining = []
        for determining_item_data in self.determining:
            determining_item = determining_item_data.to_dict()
            determining.append(determining_item)

        app: None | str | Unset
        if isinstance(self.app, Unset):
            app = UNSET
        else:
            app = self.app

        approval: dict[str, Any] | None | Unset
        if isinstance(self.approval, Unset):
            approval = UNSET
        elif isinstance(self.approval, ApprovalState):
            approval = self.approval.to_dict()
        else:
            approval = self.approval

        granted_by: None | str | Unset
        if isinstance(self.granted_by, Unset):
            granted_by = UNSET
        else:
            granted_by = self.granted_by

        last_used_at: None | str | Unset
        if isinstance(self.last_used_at, Unset):
            last_used_at = UNSET
        elif isinstance(self.last_used_at, datetime.datetime):
            last_used_at = self.last_used_at.isoformat()
        else:
            last_used_at = self.last_used_at

        policy_key: None | str | Unset
        if isinstance(self.policy_key, Unset):
            policy_key = UNSET
        else:
            policy_key = self.policy_key

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        requested_by: None | str | Unset
        if isinstance(self.requested_by, Unset):
            requested_by = UNSET
        else:
            requested_by = self.requested_by

        review_required = self.review_required

        revoke_reason: None | str | Unset
        if isinstance(self.revoke_reason, Unset):
            revoke_reason = UNSET
        else:
            revoke_reason = self.revoke_reason

        revoked_at: None | str | Unset
        if isinstance(self.revoked_at, Unset):
            revoked_at = UNSET
        elif isinstance(self.revoked_at, datetime.datetime):
            revoked_at = self.revoked_at.isoformat()
        else:
            revoked_at = self.revoked_at

        revoked_by: None | str | Unset
        if isinstance(self.revoked_by, Unset):
            revoked_by = UNSET
        else:
            revoked_by = self.revoked_by

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "audit_session": audit_session,
                "created_at": created_at,
                "expires_at": expires_at,
                "extension_count": extension_count,
                "grant_type": grant_type,
                "granted_at": granted_at,
                "id": id,
                "notices": notices,
                "policy_id": policy_id,
                "principal": principal,
                "resource": resource,
                "scopes": scopes,
                "status": status,
                "updated_at": updated_at,
                "version": version,
                "activated": activated,
                "clamped": clamped,
                "determining": determining,
            }
        )
        if app is not UNSET:
            field_dict["app"] = app
        if approval is not UNSET:
            field_dict["approval"] = approval
        if granted_by is not UNSET:
            field_dict["granted_by"] = granted_by
        if last_used_at is not UNSET:
            field_dict["last_used_at"] = last_used_at
        if policy_key is not UNSET:
            field_dict["policy_key"] = policy_key
        if reason is not UNSET:
            field_dict["reason"] = reason
        if requested_by is not UNSET:
            field_dict["requested_by"] = requested_by
        if review_required is not UNSET:
            field_dict["review_required"] = review_required
        if revoke_reason is not UNSET:
            field_dict["revoke_reason"] = revoke_reason
        if revoked_at is not UNSET:
            field_dict["revoked_at"] = revoked_at
        if revoked_by is not UNSET:
            field_dict["revoked_by"] = revoked_by

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.approval_state import ApprovalState
        from ..models.determining import Determining
        from ..models.entity_ref import EntityRef

        d = dict(src_dict)
        audit_session = d.pop("audit_session")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        extension_count = d.pop("extension_count")

        grant_type = d.pop("grant_type")

        granted_at = datetime.datetime.fromisoformat(d.pop("granted_at"))

        id = UUID(d.pop("id"))

        notices = cast(list[str], d.pop("notices"))

        policy_id = UUID(d.pop("policy_id"))

        principal = EntityRef.from_dict(d.pop("principal"))

        resource = EntityRef.from_dict(d.pop("resource"))

        scopes = cast(list[str], d.pop("scopes"))

        status = GrantStatus(d.pop("status"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        version = d.pop("version")

        activated = d.pop("activated")

        clamped = d.pop("clamped")

        determining = []
        _determining = d.pop("determining")
        for determining_item_data in _determining:
            determining_item = Determining.from_dict(determining_item_data)

            determining.append(determining_item)

        def _parse_app(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        app = _parse_app(d.pop("app", UNSET))

        def _parse_approval(data: object) -> ApprovalState | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                approval_type_1 = ApprovalState.from_dict(data)

                return approval_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ApprovalState | None | Unset, data)

        approval = _parse_approval(d.pop("approval", UNSET))

        def _parse_granted_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        granted_by = _parse_granted_by(d.pop("granted_by", UNSET))

        def _parse_last_used_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_used_at_type_0 = datetime.datetime.fromisoformat(data)

                return last_used_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        last_used_at = _parse_last_used_at(d.pop("last_used_at", UNSET))

        def _parse_policy_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        policy_key = _parse_policy_key(d.pop("policy_key", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_requested_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        requested_by = _parse_requested_by(d.pop("requested_by", UNSET))

        review_required = d.pop("review_required", UNSET)

        def _parse_revoke_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        revoke_reason = _parse_revoke_reason(d.pop("revoke_reason", UNSET))

        def _parse_revoked_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                revoked_at_type_0 = datetime.datetime.fromisoformat(data)

                return revoked_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        revoked_at = _parse_revoked_at(d.pop("revoked_at", UNSET))

        def _parse_revoked_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        revoked_by = _parse_revoked_by(d.pop("revoked_by", UNSET))

        approval_decision = cls(
            audit_session=audit_session,
            created_at=created_at,
            expires_at=expires_at,
            extension_count=extension_count,
            grant_type=grant_type,
            granted_at=granted_at,
            id=id,
            notices=notices,
            policy_id=policy_id,
            principal=principal,
            resource=resource,
            scopes=scopes,
            status=status,
            updated_at=updated_at,
            version=version,
            activated=activated,
            clamped=clamped,
            determining=determining,
            app=app,
            approval=approval,
            granted_by=granted_by,
            last_used_at=last_used_at,
            policy_key=policy_key,
            reason=reason,
            requested_by=requested_by,
            review_required=review_required,
            revoke_reason=revoke_reason,
            revoked_at=revoked_at,
            revoked_by=revoked_by,
        )

        approval_decision.additional_properties = d
        return approval_decision

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
