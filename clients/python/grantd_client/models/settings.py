from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.on_change import OnChange

T = TypeVar("T", bound="Settings")


@_attrs_define
class Settings:
    """`GET`/`PUT /v1/settings`.

    Attributes:
        on_change (OnChange): What a committed policy, schema or entity write does to the active grants the new
            configuration no longer allows.
    """

    on_change: OnChange

    def to_dict(self) -> dict[str, Any]:
        on_change = self.on_change.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "on_change": on_change,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        on_change = OnChange(d.pop("on_change"))

        settings = cls(
            on_change=on_change,
        )

        return settings
