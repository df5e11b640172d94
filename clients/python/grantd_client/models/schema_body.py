from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="SchemaBody")


@_attrs_define
class SchemaBody:
    """
    Attributes:
        cedarschema (str): Cedar schema text (the human-readable format).
    """

    cedarschema: str

    def to_dict(self) -> dict[str, Any]:
        cedarschema = self.cedarschema

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cedarschema": cedarschema,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        cedarschema = d.pop("cedarschema")

        schema_body = cls(
            cedarschema=cedarschema,
        )

        return schema_body
