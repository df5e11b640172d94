from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.approval_requirement import ApprovalRequirement
    from ..models.rule_input import RuleInput


T = TypeVar("T", bound="PolicyPatch")


@_attrs_define
class PolicyPatch:
    """`PATCH /v1/policies/{id}`: only the fields given change; `null` clears an optional
    field; `rules`, when given, replaces the whole list.

        Attributes:
            approval (ApprovalRequirement | None | Unset):
            cedar_policy_set (None | str | Unset):
            covers_descendants (bool | None | Unset):
            created_at (None | str | Unset):
            default_duration_seconds (int | None | Unset):
            description (None | str | Unset):
            enabled (bool | None | Unset):
            id (None | str | Unset):
            key (None | str | Unset):
            max_duration_seconds (int | None | Unset): Lowering it cuts every active grant the policy governs to
                `granted_at` + the new
                maximum (each with a `grant.update` event).
            name (None | str | Unset):
            notification_channel (None | str | Unset):
            priority (int | None | Unset):
            rules (list[RuleInput] | None | Unset):
            updated_at (None | str | Unset):
            version (int | None | Unset):
    """

    approval: ApprovalRequirement | None | Unset = UNSET
    cedar_policy_set: None | str | Unset = UNSET
    covers_descendants: bool | None | Unset = UNSET
    created_at: None | str | Unset = UNSET
    default_duration_seconds: int | None | Unset = UNSET
    description: None | str | Unset = UNSET
    enabled: bool | None | Unset = UNSET
    id: None | str | Unset = UNSET
    key: None | str | Unset = UNSET
    max_duration_seconds: int | None | Unset = UNSET
    name: None | str | Unset = UNSET
    notification_channel: None | str | Unset = UNSET
    priority: int | None | Unset = UNSET
    rules: list[RuleInput] | None | Unset = UNSET
    updated_at: None | str | Unset = UNSET
    version: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.approval_requirement import ApprovalRequirement

        approval: dict[str, Any] | None | Unset
        if isinstance(self.approval, Unset):
            approval = UNSET
        elif isinstance(self.approval, ApprovalRequirement):
            approval = self.approval.to_dict()
        else:
            approval = self.approval

        cedar_policy_set: None | str | Unset
        if isinstance(self.cedar_policy_set, Unset):
            cedar_policy_set = UNSET
        else:
            cedar_policy_set = self.cedar_policy_set

        covers_descendants: bool | None | Unset
        if isinstance(self.covers_descendants, Unset):
            covers_descendants = UNSET
        else:
            covers_descendants = self.covers_descendants

        created_at: None | str | Unset
        if isinstance(self.created_at, Unset):
            created_at = UNSET
        else:
            created_at = self.created_at

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

        id: None | str | Unset
        if isinstance(self.id, Unset):
            id = UNSET
        else:
            id = self.id

        key: None | str | Unset
        if isinstance(self.key, Unset):
            key = UNSET
        else:
            key = self.key

        max_duration_seconds: int | None | Unset
        if isinstance(self.max_duration_seconds, Unset):
            max_duration_seconds = UNSET
        else:
            max_duration_seconds = self.max_duration_seconds

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

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

        rules: list[dict[str, Any]] | None | Unset
        if isinstance(self.rules, Unset):
            rules = UNSET
        elif isinstance(self.rules, list):
            rules = []
            for rules_type_0_item_data in self.rules:
                rules_type_0_item = rules_type_0_item_data.to_dict()
                rules.append(rules_type_0_item)

        else:
            rules = self.rules

        updated_at: None | str | Unset
        if isinstance(self.updated_at, Unset):
            updated_at = UNSET
        else:
            updated_at = self.updated_at

        version: int | None | Unset
        if isinstance(self.version, Unset):
            version = UNSET
        else:
            version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if approval is not UNSET:
            field_dict["approval"] = approval
        if cedar_policy_set is not UNSET:
            field_dict["cedar_policy_set"] = cedar_policy_set
        if covers_descendants is not UNSET:
            field_dict["covers_descendants"] = covers_descendants
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if default_duration_seconds is not UNSET:
            field_dict["default_duration_seconds"] = default_duration_seconds
        if description is not UNSET:
            field_dict["description"] = description
        if enabled is not UNSET:
            field_dict["enabled"] = enabled
        if id is not UNSET:
            field_dict["id"] = id
        if key is not UNSET:
            field_dict["key"] = key
        if max_duration_seconds is not UNSET:
            field_dict["max_duration_seconds"] = max_duration_seconds
        if name is not UNSET:
            field_dict["name"] = name
        if notification_channel is not UNSET:
            field_dict["notification_channel"] = notification_channel
        if priority is not UNSET:
            field_dict["priority"] = priority
        if rules is not UNSET:
            field_dict["rules"] = rules
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.approval_requirement import ApprovalRequirement
        from ..models.rule_input import RuleInput

        d = dict(src_dict)

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

        def _parse_cedar_policy_set(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cedar_policy_set = _parse_cedar_policy_set(d.pop("cedar_policy_set", UNSET))

        def _parse_covers_descendants(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        covers_descendants = _parse_covers_descendants(
            d.pop("covers_descendants", UNSET)
        )

        def _parse_created_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        created_at = _parse_created_at(d.pop("created_at", UNSET))

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

        def _parse_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        id = _parse_id(d.pop("id", UNSET))

        def _parse_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        key = _parse_key(d.pop("key", UNSET))

        def _parse_max_duration_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_duration_seconds = _parse_max_duration_seconds(
            d.pop("max_duration_seconds", UNSET)
        )

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

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

        def _parse_rules(data: object) -> list[RuleInput] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                rules_type_0 = []
                _rules_type_0 = data
                for rules_type_0_item_data in _rules_type_0:
                    rules_type_0_item = RuleInput.from_dict(rules_type_0_item_data)

                    rules_type_0.append(rules_type_0_item)

                return rules_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[RuleInput] | None | Unset, data)

        rules = _parse_rules(d.pop("rules", UNSET))

        def _parse_updated_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        updated_at = _parse_updated_at(d.pop("updated_at", UNSET))

        def _parse_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        version = _parse_version(d.pop("version", UNSET))

        policy_patch = cls(
            approval=approval,
            cedar_policy_set=cedar_policy_set,
            covers_descendants=covers_descendants,
            created_at=created_at,
            default_duration_seconds=default_duration_seconds,
            description=description,
            enabled=enabled,
            id=id,
            key=key,
            max_duration_seconds=max_duration_seconds,
            name=name,
            notification_channel=notification_channel,
            priority=priority,
            rules=rules,
            updated_at=updated_at,
            version=version,
        )

        return policy_patch
