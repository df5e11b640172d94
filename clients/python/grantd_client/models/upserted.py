from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Upserted")


@_attrs_define
class Upserted:
    """
    Attributes:
        policy_set_version (int): The tenant's policy-set version once this write committed (also in the
            `X-Policy-Set-Version` header).
        reevaluation_id (int): The re-evaluation of active grants this write started (also the
            `X-Reevaluation-Id` header; `GET /v1/reevaluations/{id}`): it runs in the
            background after the write, under the tenant's `on_change` setting.
        upserted (int): How many entities were inserted or replaced.
    """

    policy_set_version: int
    reevaluation_id: int
    upserted: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        policy_set_version = self.policy_set_version

        reevaluation_id = self.reevaluation_id

        upserted = self.upserted

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "policy_set_version": policy_set_version,
                "reevaluation_id": reevaluation_id,
                "upserted": upserted,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        policy_set_version = d.pop("policy_set_version")

        reevaluation_id = d.pop("reevaluation_id")

        upserted = d.pop("upserted")

        upserted = cls(
            policy_set_version=policy_set_version,
            reevaluation_id=reevaluation_id,
            upserted=upserted,
        )

        upserted.additional_properties = d
        return upserted

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
