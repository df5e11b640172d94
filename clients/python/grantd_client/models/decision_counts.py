from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="DecisionCounts")


@_attrs_define
class DecisionCounts:
    """
    Attributes:
        allow_to_deny (int):
        deny_to_allow (int):
        flipped (int): Decisions whose outcome or deny reason would differ.
        reason_changed (int): Still denied, for another reason.
    """

    allow_to_deny: int
    deny_to_allow: int
    flipped: int
    reason_changed: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        allow_to_deny = self.allow_to_deny

        deny_to_allow = self.deny_to_allow

        flipped = self.flipped

        reason_changed = self.reason_changed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "allow_to_deny": allow_to_deny,
                "deny_to_allow": deny_to_allow,
                "flipped": flipped,
                "reason_changed": reason_changed,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        allow_to_deny = d.pop("allow_to_deny")

        deny_to_allow = d.pop("deny_to_allow")

        flipped = d.pop("flipped")

        reason_changed = d.pop("reason_changed")

        decision_counts = cls(
            allow_to_deny=allow_to_deny,
            deny_to_allow=deny_to_allow,
            flipped=flipped,
            reason_changed=reason_changed,
        )

        decision_counts.additional_properties = d
        return decision_counts

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
