from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.entity_ref import EntityRef


T = TypeVar("T", bound="ApprovalRequirement")


@_attrs_define
class ApprovalRequirement:
    """What a policy asks of the grants it governs before they become active (a policy's
    `approval`).

        Attributes:
            approvers (EntityRef | None | Unset):
            count (int | Unset): How many distinct approvers must approve (1 to 10; default 1).
            timeout_seconds (int | Unset): How long a grant waits for its approvals before it becomes APPROVAL_EXPIRED (60 s
                to
                30 days; default 86400).
    """

    approvers: EntityRef | None | Unset = UNSET
    count: int | Unset = UNSET
    timeout_seconds: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.entity_ref import EntityRef

        approvers: dict[str, Any] | None | Unset
        if isinstance(self.approvers, Unset):
            approvers = UNSET
        elif isinstance(self.approvers, EntityRef):
            approvers = self.approvers.to_dict()
        else:
            approvers = self.approvers

        count = self.count

        timeout_seconds = self.timeout_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if approvers is not UNSET:
            field_dict["approvers"] = approvers
        if count is not UNSET:
            field_dict["count"] = count
        if timeout_seconds is not UNSET:
            field_dict["timeout_seconds"] = timeout_seconds

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.entity_ref import EntityRef

        d = dict(src_dict)

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

        count = d.pop("count", UNSET)

        timeout_seconds = d.pop("timeout_seconds", UNSET)

        approval_requirement = cls(
            approvers=approvers,
            count=count,
            timeout_seconds=timeout_seconds,
        )

        return approval_requirement
