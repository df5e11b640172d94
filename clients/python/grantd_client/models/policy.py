from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.approval_requirement import ApprovalRequirement
    from ..models.rule import Rule


T = TypeVar("T", bound="Policy")


@_attrs_define
class Policy:
    """A stored policy, as the API returns it.

    Attributes:
        cedar_policy_set (str): The assembled Cedar text of all rules of this policy.
        created_at (datetime.datetime):
        enabled (bool):
        id (UUID):
        max_duration_seconds (int):
        name (str):
        priority (int):
        rules (list[Rule]):
        updated_at (datetime.datetime):
        version (int):
        approval (ApprovalRequirement | None | Unset):
        covers_descendants (bool | Unset): Whether a grant this policy governs on a resource also passes the access
            checks of
            that resource's descendants (an app's entitlements). Without it, a grant covers
            exactly its own resource.
        default_duration_seconds (int | None | Unset):
        description (None | str | Unset):
        key (None | str | Unset):
        notification_channel (None | str | Unset):
    """

    cedar_policy_set: str
    created_at: datetime.datetime
    enabled: bool
    id: UUID
    max_duration_seconds: int
    name: str
    priority: int
    rules: list[Rule]
    updated_at: datetime.datetime
    version: int
    approval: ApprovalRequirement | None | Unset = UNSET
    covers_descendants: bool | Unset = UNSET
    default_duration_seconds: int | None | Unset = UNSET
    description: None | str | Unset = UNSET
    key: None | str | Unset = UNSET
    notification_channel: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.approval_requirement import ApprovalRequirement

        cedar_policy_set = self.cedar_policy_set

        created_at = self.created_at.isoformat()

        enabled = self.enabled

        id = str(self.id)

        max_duration_seconds = self.max_duration_seconds

        name = self.name

        priority = self.priority

        rules = []
        for rules_item_data in self.rules:
            rules_item = rules_item_data.to_dict()
            rules.append(rules_item)

        updated_at = self.updated_at.isoformat()

        version = self.version

        approval: dict[str, Any] | None | Unset
        if isinstance(self.approval, Unset):
            approval = UNSET
        elif isinstance(self.approval, ApprovalRequirement):
            approval = self.approval.to_dict()
        else:
            approval = self.approval

        covers_descendants = self.covers_descendants

        default_duration_seconds: int | None | Unset
        if isinstance(self.default_duration_seconds, Unset):
            default_duration_seconds = UNSET
        else:
            default_duration_seconds = self.default_duration_seconds

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        key: None | str | Unset
        if isinstance(self.key, Unset):
            key = UNSET
        else:
            key = self.key

        notification_channel: None | str | Unset
        if isinstance(self.notification_channel, Unset):
            notification_channel = UNSET
        else:
            notification_channel = self.notification_channel

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cedar_policy_set": cedar_policy_set,
                "created_at": created_at,
                "enabled": enabled,
                "id": id,
                "max_duration_seconds": max_duration_seconds,
                "name": name,
                "priority": priority,
                "rules": rules,
                "updated_at": updated_at,
                "version": version,
            }
        )
        if approval is not UNSET:
            field_dict["approval"] = approval
        if covers_descendants is not UNSET:
            field_dict["covers_descendants"] = covers_descendants
        if default_duration_seconds is not UNSET:
            field_dict["default_duration_seconds"] = default_duration_seconds
        if description is not UNSET:
            field_dict["description"] = description
        if key is not UNSET:
            field_dict["key"] = key
        if notification_channel is not UNSET:
            field_dict["notification_channel"] = notification_channel

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.approval_requirement import ApprovalRequirement
        from ..models.rule import Rule

        d = dict(src_dict)
        cedar_policy_set = d.pop("cedar_policy_set")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        enabled = d.pop("enabled")

        id = UUID(d.pop("id"))

        max_duration_seconds = d.pop("max_duration_seconds")

        name = d.pop("name")

        priority = d.pop("priority")

        rules = []
        _rules = d.pop("rules")
        for rules_item_data in _rules:
            rules_item = Rule.from_dict(rules_item_data)

            rules.append(rules_item)

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        version = d.pop("version")

        def _parse_approval(data: object) -> ApprovalRequirement | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                approval_type_1 = ApprovalRequirement.from_dict(data)

                return approval_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ApprovalRequirement | None | Unset, data)

        approval = _parse_approval(d.pop("approval", UNSET))

        covers_descendants = d.pop("covers_descendants", UNSET)

        def _parse_default_duration_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        default_duration_seconds = _parse_default_duration_seconds(
            d.pop("default_duration_seconds", UNSET)
        )

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        key = _parse_key(d.pop("key", UNSET))

        def _parse_notification_channel(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        notification_channel = _parse_notification_channel(
            d.pop("notification_channel", UNSET)
        )

        policy = cls(
            cedar_policy_set=cedar_policy_set,
            created_at=created_at,
            enabled=enabled,
            id=id,
            max_duration_seconds=max_duration_seconds,
            name=name,
            priority=priority,
            rules=rules,
            updated_at=updated_at,
            version=version,
            approval=approval,
            covers_descendants=covers_descendants,
            default_duration_seconds=default_duration_seconds,
            description=description,
            key=key,
            notification_channel=notification_channel,
        )

        policy.additional_properties = d
        return policy

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
