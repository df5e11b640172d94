from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PolicySetVersionBody")


@_attrs_define
class PolicySetVersionBody:
    """
    Attributes:
        cedar_policy_set (str): The exact Cedar text of the enabled rules that decided at this version.
        created_at (datetime.datetime): When this text came into force.
        version (int):
    """

    cedar_policy_set: str
    created_at: datetime.datetime
    version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cedar_policy_set = self.cedar_policy_set

        created_at = self.created_at.isoformat()

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cedar_policy_set": cedar_policy_set,
                "created_at": created_at,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        cedar_policy_set = d.pop("cedar_policy_set")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        version = d.pop("version")

        policy_set_version_body = cls(
            cedar_policy_set=cedar_policy_set,
            created_at=created_at,
            version=version,
        )

        policy_set_version_body.additional_properties = d
        return policy_set_version_body

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
