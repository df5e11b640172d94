from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.decision_counts import DecisionCounts
    from ..models.decision_flip import DecisionFlip


T = TypeVar("T", bound="DecisionImpact")


@_attrs_define
class DecisionImpact:
    """
    Attributes:
        complete (bool): `false` when the preview's time ran out before the window was replayed
            (`replayed` says how many were).
        counts (DecisionCounts):
        items (list[DecisionFlip]): The decisions that would flip, newest first (at most 10,000).
        not_replayable (int): Recorded decisions in that set that cannot be replayed: `authorize` calls that
            brought request-scoped entities (which the audit log does not keep), extensions
            recorded before their events carried the grant, and events over 64 KiB.
        replayed (int): Recorded decisions re-decided (the newest in the window, at most 10,000).
        since (datetime.datetime):
        truncated (bool):
    """

    complete: bool
    counts: DecisionCounts
    items: list[DecisionFlip]
    not_replayable: int
    replayed: int
    since: datetime.datetime
    truncated: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        complete = self.complete

        counts = self.counts.to_dict()

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        not_replayable = self.not_replayable

        replayed = self.replayed

        since = self.since.isoformat()

        truncated = self.truncated

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "complete": complete,
                "counts": counts,
                "items": items,
                "not_replayable": not_replayable,
                "replayed": replayed,
                "since": since,
                "truncated": truncated,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.decision_counts import DecisionCounts
        from ..models.decision_flip import DecisionFlip

        d = dict(src_dict)
        complete = d.pop("complete")

        counts = DecisionCounts.from_dict(d.pop("counts"))

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = DecisionFlip.from_dict(items_item_data)

            items.append(items_item)

        not_replayable = d.pop("not_replayable")

        replayed = d.pop("replayed")

        since = datetime.datetime.fromisoformat(d.pop("since"))

        truncated = d.pop("truncated")

        decision_impact = cls(
            complete=complete,
            counts=counts,
            items=items,
            not_replayable=not_replayable,
            replayed=replayed,
            since=since,
            truncated=truncated,
        )

        decision_impact.additional_properties = d
        return decision_impact

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
