from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.raw_filter import RawFilter


T = TypeVar("T", bound="BulkRevokeBody")


@_attrs_define
class BulkRevokeBody:
    """Body of `POST /v1/grants/revoke`.

    Attributes:
        filters (list[RawFilter]): The same filter objects as `grants/list`, ANDed; at least one (to revoke every
            active grant of the tenant, say so: `status IS_ANY_OF ACTIVE`).
        reason (str): Recorded on every revoked grant (`revoke_reason`) and its audit event.
    """

    filters: list[RawFilter]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        filters = []
        for filters_item_data in self.filters:
            filters_item = filters_item_data.to_dict()
            filters.append(filters_item)

        reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "filters": filters,
                "reason": reason,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.raw_filter import RawFilter

        d = dict(src_dict)
        filters = []
        _filters = d.pop("filters")
        for filters_item_data in _filters:
            filters_item = RawFilter.from_dict(filters_item_data)

            filters.append(filters_item)

        reason = d.pop("reason")

        bulk_revoke_body = cls(
            filters=filters,
            reason=reason,
        )

        return bulk_revoke_body
