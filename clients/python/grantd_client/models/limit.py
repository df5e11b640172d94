from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Limit")


@_attrs_define
class Limit:
    """A token bucket's rate and size.

    Attributes:
        burst (int): The bucket's size: calls that may come at once; 1..=1,000,000.
        rps (int): Tokens added per second (calls per second, sustained); 1..=1,000,000.
    """

    burst: int
    rps: int

    def to_dict(self) -> dict[str, Any]:
        burst = self.burst

        rps = self.rps

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "burst": burst,
                "rps": rps,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        burst = d.pop("burst")

        rps = d.pop("rps")

        limit = cls(
            burst=burst,
            rps=rps,
        )

        return limit
