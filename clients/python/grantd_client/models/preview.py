from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.decision_impact import DecisionImpact
    from ..models.grant_impact import GrantImpact
    from ..models.warning import Warning_


T = TypeVar("T", bound="Preview")


@_attrs_define
class Preview:
    """
    Attributes:
        decisions (DecisionImpact):
        grants (GrantImpact):
        notices (list[Warning_]): The lints the write would answer with (`severity: "warning"`).
        policy_set_version (int): The tenant's policy-set version the change was previewed against.
    """

    decisions: DecisionImpact
    grants: GrantImpact
    notices: list[Warning_]
    policy_set_version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        decisions = self.decisions.to_dict()

        grants = self.grants.to_dict()

        notices = []
        for notices_item_data in self.notices:
            notices_item = notices_item_data.to_dict()
            notices.append(notices_item)

        policy_set_version = self.policy_set_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "decisions": decisions,
                "grants": grants,
                "notices": notices,
                "policy_set_version": policy_set_version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.decision_impact import DecisionImpact
        from ..models.grant_impact import GrantImpact
        from ..models.warning import Warning_

        d = dict(src_dict)
        decisions = DecisionImpact.from_dict(d.pop("decisions"))

        grants = GrantImpact.from_dict(d.pop("grants"))

        notices = []
        _notices = d.pop("notices")
        for notices_item_data in _notices:
            notices_item = Warning_.from_dict(notices_item_data)

            notices.append(notices_item)

        policy_set_version = d.pop("policy_set_version")

        preview = cls(
            decisions=decisions,
            grants=grants,
            notices=notices,
            policy_set_version=policy_set_version,
        )

        preview.additional_properties = d
        return preview

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
