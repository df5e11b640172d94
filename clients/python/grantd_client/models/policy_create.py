from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.approval_requirement import ApprovalRequirement
    from ..models.rule_input import RuleInput


T = TypeVar("T", bound="PolicyCreate")


@_attrs_define
class PolicyCreate:
    """`POST /v1/policies`. Read-only fields of a Policy may be present and are ignored.

    Attributes:
        max_duration_seconds (int):
        name (str):
        approval (ApprovalRequirement | None | Unset):
        covers_descendants (bool | None | Unset): Default false: a grant covers exactly its own resource in
            `access/check`; true: also
            the resource's descendants (e.g. an app's entitlements).
        default_duration_seconds (int | None | Unset):
        description (None | str | Unset):
        enabled (bool | None | Unset): Default true.
        key (None | str | Unset): `^[a-z0-9][a-z0-9_.-]{0,63}$`, not UUID-shaped, unique per tenant.
        notification_channel (None | str | Unset):
        priority (int | None | Unset): Default 0. Chooses the governing policy of a grant; not an evaluation order.
        rules (list[RuleInput] | Unset):
    """

    max_duration_seconds: int
    name: str
    approval: ApprovalRequirement | None | Unset = UNSET
    covers_descendants: bool | None | Unset = UNSET
    default_duration_seconds: int | None | Unset = UNSET
    description: None | str | Unset = UNSET
    enabled: bool | None | Unset = UNSET
    key: None | str | Unset = UNSET
    notification_channel: None | str | Unset = UNSET
    priority: int | None | Unset = UNSET
    rules: list[RuleInput] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.approval_requirement import ApprovalRequirement

        max_duration_seconds = self.max_duration_seconds

        name = self.name

        approval: dict[str, Any] | None | Unset
        if isinstance(self.approval, Unset):
            approval = UNSET
        elif isinstance(self.approval, ApprovalRequirement):
            approval = self.approval.to_dict()
        else:
            approval = self.approval

        covers_descendants: bool | None | Unset
        if isinstance(self.covers_descendants, Unset):
            covers_descendants = UNSET
        else:
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

        enabled: bool | None | Unset
        if isinstance(self.enabled, Unset):
            enabled = UNSET
        else:
            enabled = self.enabled

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

        priority: int | None | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        else:
            priority = self.priority

        rules: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.rules, Unset):
            rules = []
            for rules_item_data in self.rules:
                rules_item = rules_item_data.to_dict()
                rules.append(rules_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "max_duration_seconds": max_duration_seconds,
                "name": name,
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
        if enabled is not UNSET:
            field_dict["enabled"] = enabled
        if key is not UNSET:
            field_dict["key"] = key
        if notification_channel is not UNSET:
            field_dict["notification_channel"] = notification_channel
        if priority is not UNSET:
            field_dict["priority"] = priority
        if rules is not UNSET:
            field_dict["rules"] = rules

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.approval_requirement import ApprovalRequirement
        from ..models.rule_input import RuleInput

        d = dict(src_dict)
        max_duration_seconds = d.pop("max_duration_seconds")

        name = d.pop("name")

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

        def _parse_covers_descendants(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        covers_descendants = _parse_covers_descendants(
            d.pop("covers_descendants", UNSET)
        )

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

        def _parse_enabled(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        enabled = _parse_enabled(d.pop("enabled", UNSET))

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

        def _parse_priority(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        priority = _parse_priority(d.pop("priority", UNSET))

        _rules = d.pop("rules", UNSET)
        rules: list[RuleInput] | Unset = UNSET
        if _rules is not UNSET:
            rules = []
            for rules_item_data in _rules:
                rules_item = RuleInput.from_dict(rules_item_data)

                rules.append(rules_item)

        policy_create = cls(
            max_duration_seconds=max_duration_seconds,
            name=name,
            approval=approval,
            covers_descendants=covers_descendants,
            default_duration_seconds=default_duration_seconds,
            description=description,
            enabled=enabled,
            key=key,
            notification_channel=notification_channel,
            priority=priority,
            rules=rules,
        )

        return policy_create
