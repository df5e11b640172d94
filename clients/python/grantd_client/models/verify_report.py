from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="VerifyReport")


@_attrs_define
class VerifyReport:
    """The outcome of checking a tenant's chain.

    Attributes:
        events (int): Events checked.
        head_hash (str):
        head_seq (int):
        ok (bool):
        first_bad (None | str | Unset): The first event that was altered or whose predecessor is missing.
        problem (None | str | Unset): Why verification failed, when it did.
    """

    events: int
    head_hash: str
    head_seq: int
    ok: bool
    first_bad: None | str | Unset = UNSET
    problem: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        events = self.events

        head_hash = self.head_hash

        head_seq = self.head_seq

        ok = self.ok

        first_bad: None | str | Unset
        if isinstance(self.first_bad, Unset):
            first_bad = UNSET
        else:
            first_bad = self.first_bad

        problem: None | str | Unset
        if isinstance(self.problem, Unset):
            problem = UNSET
        else:
            problem = self.problem

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "events": events,
                "head_hash": head_hash,
                "head_seq": head_seq,
                "ok": ok,
            }
        )
        if first_bad is not UNSET:
            field_dict["first_bad"] = first_bad
        if problem is not UNSET:
            field_dict["problem"] = problem

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        events = d.pop("events")

        head_hash = d.pop("head_hash")

        head_seq = d.pop("head_seq")

        ok = d.pop("ok")

        def _parse_first_bad(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        first_bad = _parse_first_bad(d.pop("first_bad", UNSET))

        def _parse_problem(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        problem = _parse_problem(d.pop("problem", UNSET))

        verify_report = cls(
            events=events,
            head_hash=head_hash,
            head_seq=head_seq,
            ok=ok,
            first_bad=first_bad,
            problem=problem,
        )

        verify_report.additional_properties = d
        return verify_report

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
