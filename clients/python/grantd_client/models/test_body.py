from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.case import Case
    from ..models.change_body import ChangeBody


T = TypeVar("T", bound="TestBody")


@_attrs_define
class TestBody:
    """The body of `POST /v1/policies/test`.

    Attributes:
        cases (list[Case]): At most 1,000 cases; request-scoped `entities` as in `POST /v1/authorize/batch`: at
            most 1,000 over the run, brought by at most 10 cases.
        change (ChangeBody | None | Unset):
        min_policy_set_version (int | None | Unset): Run on this policy-set version or a newer one (a consistency
            token).
    """

    cases: list[Case]
    change: ChangeBody | None | Unset = UNSET
    min_policy_set_version: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.change_body import ChangeBody

        cases = []
        for cases_item_data in self.cases:
            cases_item = cases_item_data.to_dict()
            cases.append(cases_item)

        change: dict[str, Any] | None | Unset
        if isinstance(self.change, Unset):
            change = UNSET
        elif isinstance(self.change, ChangeBody):
            change = self.change.to_dict()
        else:
            change = self.change

        min_policy_set_version: int | None | Unset
        if isinstance(self.min_policy_set_version, Unset):
            min_policy_set_version = UNSET
        else:
            min_policy_set_version = self.min_policy_set_version

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cases": cases,
            }
        )
        if change is not UNSET:
            field_dict["change"] = change
        if min_policy_set_version is not UNSET:
            field_dict["min_policy_set_version"] = min_policy_set_version

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.case import Case
        from ..models.change_body import ChangeBody

        d = dict(src_dict)
        cases = []
        _cases = d.pop("cases")
        for cases_item_data in _cases:
            cases_item = Case.from_dict(cases_item_data)

            cases.append(cases_item)

        def _parse_change(data: object) -> ChangeBody | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                change_type_1 = ChangeBody.from_dict(data)

                return change_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ChangeBody | None | Unset, data)

        change = _parse_change(d.pop("change", UNSET))

        def _parse_min_policy_set_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        min_policy_set_version = _parse_min_policy_set_version(
            d.pop("min_policy_set_version", UNSET)
        )

        test_body = cls(
            cases=cases,
            change=change,
            min_policy_set_version=min_policy_set_version,
        )

        return test_body
