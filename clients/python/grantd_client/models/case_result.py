from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CaseResult")


@_attrs_define
class CaseResult:
    """How one case went.

    Attributes:
        determining (list[str]): The keys (or ids) of the determining policies, sorted.
        errors (list[str]): Rules that failed to evaluate (a case fails on them unless it expects
            `deny_reason: "error"`).
        name (str):
        passed (bool):
        decision (None | str | Unset): What was decided (absent when the request itself was refused).
        deny_reason (None | str | Unset):
        failure (None | str | Unset): Why it failed; absent when it passed.
    """

    determining: list[str]
    errors: list[str]
    name: str
    passed: bool
    decision: None | str | Unset = UNSET
    deny_reason: None | str | Unset = UNSET
    failure: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        determining = self.determining

        errors = self.errors

        name = self.name

        passed = self.passed

        decision: None | str | Unset
        if isinstance(self.decision, Unset):
            decision = UNSET
        else:
            decision = self.decision

        deny_reason: None | str | Unset
        if isinstance(self.deny_reason, Unset):
            deny_reason = UNSET
        else:
            deny_reason = self.deny_reason

        failure: None | str | Unset
        if isinstance(self.failure, Unset):
            failure = UNSET
        else:
            failure = self.failure

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "determining": determining,
                "errors": errors,
                "name": name,
                "passed": passed,
            }
        )
        if decision is not UNSET:
            field_dict["decision"] = decision
        if deny_reason is not UNSET:
            field_dict["deny_reason"] = deny_reason
        if failure is not UNSET:
            field_dict["failure"] = failure

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        determining = cast(list[str], d.pop("determining"))

        errors = cast(list[str], d.pop("errors"))

        name = d.pop("name")

        passed = d.pop("passed")

        def _parse_decision(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        decision = _parse_decision(d.pop("decision", UNSET))

        def _parse_deny_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deny_reason = _parse_deny_reason(d.pop("deny_reason", UNSET))

        def _parse_failure(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        failure = _parse_failure(d.pop("failure", UNSET))

        case_result = cls(
            determining=determining,
            errors=errors,
            name=name,
            passed=passed,
            decision=decision,
            deny_reason=deny_reason,
            failure=failure,
        )

        case_result.additional_properties = d
        return case_result

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
