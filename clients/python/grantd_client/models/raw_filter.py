from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.raw_value import RawValue


T = TypeVar("T", bound="RawFilter")


@_attrs_define
class RawFilter:
    """One filter object as sent.

    Attributes:
        attribute (str): `status`, `user`, `principal`, `app`, `entitlement`, `entitlement_value`, `resource`,
            `policy`, `scopes`, `granted_by`, `requested_by`, `granted_at`, `expires_at`,
            `last_used_at` (alias `last_login_at`), `revoked_at`, `created_at`, `updated_at`,
            `review_required` (`true`/`false`, `EQUALS`/`NOT_EQUALS`), `approver` (a grant that
            needed approval and was approved by one of these users; `EQUALS`/`IS_EXACTLY`,
            `IN`/`IS_ANY_OF` and their negations).
        operator (str): e.g. `IS_ANY_OF`, `IS_BETWEEN`, `IS_WITHIN`, `STARTS_WITH`, `IS_NULL`.
        values (list[RawValue] | None | Unset): `[{"value": ..}]`; empty or absent for `IS_NULL` / `IS_NOT_NULL`.
    """

    attribute: str
    operator: str
    values: list[RawValue] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        attribute = self.attribute

        operator = self.operator

        values: list[dict[str, Any]] | None | Unset
        if isinstance(self.values, Unset):
            values = UNSET
        elif isinstance(self.values, list):
            values = []
            for values_type_0_item_data in self.values:
                values_type_0_item = values_type_0_item_data.to_dict()
                values.append(values_type_0_item)

        else:
            values = self.values

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "attribute": attribute,
                "operator": operator,
            }
        )
        if values is not UNSET:
            field_dict["values"] = values

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.raw_value import RawValue

        d = dict(src_dict)
        attribute = d.pop("attribute")

        operator = d.pop("operator")

        def _parse_values(data: object) -> list[RawValue] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                values_type_0 = []
                _values_type_0 = data
                for values_type_0_item_data in _values_type_0:
                    values_type_0_item = RawValue.from_dict(values_type_0_item_data)

                    values_type_0.append(values_type_0_item)

                return values_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[RawValue] | None | Unset, data)

        values = _parse_values(d.pop("values", UNSET))

        raw_filter = cls(
            attribute=attribute,
            operator=operator,
            values=values,
        )

        return raw_filter
