from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.raw_value_value import RawValueValue


T = TypeVar("T", bound="RawValue")


@_attrs_define
class RawValue:
    """
    Attributes:
        value (RawValueValue): A string, or an integer for id attributes; an RFC 3339 timestamp for time
            attributes; an ISO 8601 duration such as `P7D` for `IS_WITHIN`.
    """

    value: RawValueValue

    def to_dict(self) -> dict[str, Any]:
        value = self.value.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.raw_value_value import RawValueValue

        d = dict(src_dict)
        value = RawValueValue.from_dict(d.pop("value"))

        raw_value = cls(
            value=value,
        )

        return raw_value
