from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.case_result import CaseResult


T = TypeVar("T", bound="Report")


@_attrs_define
class Report:
    """A run's results.

    Attributes:
        failed (int):
        passed (int):
        results (list[CaseResult]):
    """

    failed: int
    passed: int
    results: list[CaseResult]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        failed = self.failed

        passed = self.passed

        results = []
        for results_item_data in self.results:
            results_item = results_item_data.to_dict()
            results.append(results_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "failed": failed,
                "passed": passed,
                "results": results,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.case_result import CaseResult

        d = dict(src_dict)
        failed = d.pop("failed")

        passed = d.pop("passed")

        results = []
        _results = d.pop("results")
        for results_item_data in _results:
            results_item = CaseResult.from_dict(results_item_data)

            results.append(results_item)

        report = cls(
            failed=failed,
            passed=passed,
            results=results,
        )

        report.additional_properties = d
        return report

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
