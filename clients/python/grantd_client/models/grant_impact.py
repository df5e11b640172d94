from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.grant_change import GrantChange
    from ..models.grant_counts import GrantCounts


T = TypeVar("T", bound="GrantImpact")


@_attrs_define
class GrantImpact:
    """
    Attributes:
        complete (bool): `false` when the preview's time ran out before every active grant was re-decided
            (`examined` says how many were).
        counts (GrantCounts):
        examined (int): Effectively active grants re-decided.
        items (list[GrantChange]): The grants whose standing changes, in id order (at most 10,000).
        truncated (bool): Whether `items` stops short of the counts.
    """

    complete: bool
    counts: GrantCounts
    examined: int
    items: list[GrantChange]
    truncated: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        complete = self.complete

        counts = self.counts.to_dict()

        examined = self.examined

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        truncated = self.truncated

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "complete": complete,
                "counts": counts,
                "examined": examined,
                "items": items,
                "truncated": truncated,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.grant_change import GrantChange
        from ..models.grant_counts import GrantCounts

        d = dict(src_dict)
        complete = d.pop("complete")

        counts = GrantCounts.from_dict(d.pop("counts"))

        examined = d.pop("examined")

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = GrantChange.from_dict(items_item_data)

            items.append(items_item)

        truncated = d.pop("truncated")

        grant_impact = cls(
            complete=complete,
            counts=counts,
            examined=examined,
            items=items,
            truncated=truncated,
        )

        grant_impact.additional_properties = d
        return grant_impact

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
