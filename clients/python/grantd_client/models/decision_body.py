from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.determining import Determining


T = TypeVar("T", bound="DecisionBody")


@_attrs_define
class DecisionBody:
    """
    Attributes:
        decision (str): `allow` or `deny`.
        determining (list[Determining]): The rules that determined the decision, by policy priority then rule ordinal.
        errors (list[str]): Evaluation errors (an erroring `forbid` denies; an erroring `permit` does not allow).
        notices (list[str]): The non-empty notices of the determining rules, in the same order.
        policy_set_version (int): The compiled policy set that decided (`GET /v1/policy-set-versions/{version}`).
        deny_reason (None | str | Unset): `forbid`, `no_permit` or `error`; null when allowed.
    """

    decision: str
    determining: list[Determining]
    errors: list[str]
    notices: list[str]
    policy_set_version: int
    deny_reason: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        decision = self.decision

        determining = []
        for determining_item_data in self.determining:
            determining_item = determining_item_data.to_dict()
            determining.append(determining_item)

        errors = self.errors

        notices = self.notices

        policy_set_version = self.policy_set_version

        deny_reason: None | str | Unset
        if isinstance(self.deny_reason, Unset):
            deny_reason = UNSET
        else:
            deny_reason = self.deny_reason

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "decision": decision,
                "determining": determining,
                "errors": errors,
                "notices": notices,
                "policy_set_version": policy_set_version,
            }
        )
        if deny_reason is not UNSET:
            field_dict["deny_reason"] = deny_reason

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.determining import Determining

        d = dict(src_dict)
        decision = d.pop("decision")

        determining = []
        _determining = d.pop("determining")
        for determining_item_data in _determining:
            determining_item = Determining.from_dict(determining_item_data)

            determining.append(determining_item)

        errors = cast(list[str], d.pop("errors"))

        notices = cast(list[str], d.pop("notices"))

        policy_set_version = d.pop("policy_set_version")

        def _parse_deny_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deny_reason = _parse_deny_reason(d.pop("deny_reason", UNSET))

        decision_body = cls(
            decision=decision,
            determining=determining,
            errors=errors,
            notices=notices,
            policy_set_version=policy_set_version,
            deny_reason=deny_reason,
        )

        decision_body.additional_properties = d
        return decision_body

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
