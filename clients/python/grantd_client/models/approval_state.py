from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.approval_vote import ApprovalVote
    from ..models.entity_ref import EntityRef


T = TypeVar("T", bound="ApprovalState")


@_attrs_define
class ApprovalState:
    """Where a grant that needed approval stands: the requirement it was requested under, the
    approvals so far, and the denial if one came.

        Attributes:
            approvals (list[ApprovalVote]):
            deadline (datetime.datetime): The approval deadline (while PENDING_APPROVAL this is also the grant's
                `expires_at`).
            duration_seconds (int): The duration the grant gets when it is activated (from activation; chosen at request
                time, clamped again to the governing policy's maximum at activation).
            required (int): Distinct approvers needed.
            approvers (EntityRef | None | Unset):
            denied_at (datetime.datetime | None | Unset):
            denied_by (None | str | Unset):
            deny_reason (None | str | Unset):
    """

    approvals: list[ApprovalVote]
    deadline: datetime.datetime
    duration_seconds: int
    required: int
    approvers: EntityRef | None | Unset = UNSET
    denied_at: datetime.datetime | None | Unset = UNSET
    denied_by: None | str | Unset = UNSET
    deny_reason: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.entity_ref import EntityRef

        approvals = []
        for approvals_item_data in self.approvals:
            approvals_item = approvals_item_data.to_dict()
            approvals.append(approvals_item)

        deadline = self.deadline.isoformat()

        duration_seconds = self.duration_seconds

        required = self.required

        approvers: dict[str, Any] | None | Unset
        if isinstance(self.approvers, Unset):
            approvers = UNSET
        elif isinstance(self.approvers, EntityRef):
            approvers = self.approvers.to_dict()
        else:
            approvers = self.approvers

        denied_at: None | str | Unset
        if isinstance(self.denied_at, Unset):
            denied_at = UNSET
        elif isinstance(self.denied_at, datetime.datetime):
            denied_at = self.denied_at.isoformat()
        else:
            denied_at = self.denied_at

        denied_by: None | str | Unset
        if isinstance(self.denied_by, Unset):
            denied_by = UNSET
        else:
            denied_by = self.denied_by

        deny_reason: None | str | Unset
        if isinstance(self.deny_reason, Unset):
            deny_reason = UNSET
        else:
            deny_reason = self.deny_reason

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "approvals": approvals,
                "deadline": deadline,
                "duration_seconds": duration_seconds,
                "required": required,
            }
        )
        if approvers is not UNSET:
            field_dict["approvers"] = approvers
        if denied_at is not UNSET:
            field_dict["denied_at"] = denied_at
        if denied_by is not UNSET:
            field_dict["denied_by"] = denied_by
        if deny_reason is not UNSET:
            field_dict["deny_reason"] = deny_reason

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.approval_vote import ApprovalVote
        from ..models.entity_ref import EntityRef

        d = dict(src_dict)
        approvals = []
        _approvals = d.pop("approvals")
        for approvals_item_data in _approvals:
            approvals_item = ApprovalVote.from_dict(approvals_item_data)

            approvals.append(approvals_item)

        deadline = datetime.datetime.fromisoformat(d.pop("deadline"))

        duration_seconds = d.pop("duration_seconds")

        required = d.pop("required")

        def _parse_approvers(data: object) -> EntityRef | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                approvers_type_1 = EntityRef.from_dict(data)

                return approvers_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EntityRef | None | Unset, data)

        approvers = _parse_approvers(d.pop("approvers", UNSET))

        def _parse_denied_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                denied_at_type_0 = datetime.datetime.fromisoformat(data)

                return denied_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        denied_at = _parse_denied_at(d.pop("denied_at", UNSET))

        def _parse_denied_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        denied_by = _parse_denied_by(d.pop("denied_by", UNSET))

        def _parse_deny_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deny_reason = _parse_deny_reason(d.pop("deny_reason", UNSET))

        approval_state = cls(
            approvals=approvals,
            deadline=deadline,
            duration_seconds=duration_seconds,
            required=required,
            approvers=approvers,
            denied_at=denied_at,
            denied_by=denied_by,
            deny_reason=deny_reason,
        )

        approval_state.additional_properties = d
        return approval_state

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
