from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.warning import Warning_


T = TypeVar("T", bound="SchemaWritten")


@_attrs_define
class SchemaWritten:
    """The schema as a write stored it, with the consistency token of that write.

    Attributes:
        cedarschema (str):
        notices (list[Warning_]): The validator's warnings about the stored policies' rules under this schema
            (`severity: "warning"`, `policy KEY: rule N: …`), for example a rule no request of
            the schema can match; they never refuse the write.
        policy_set_version (int): The tenant's policy-set version once this write committed (also in the
            `X-Policy-Set-Version` header): send it as `min_policy_set_version` to have a
            decision made on this change or a later one, on any instance.
        reevaluation_id (int): The re-evaluation of active grants this write started (also the
            `X-Reevaluation-Id` header; `GET /v1/reevaluations/{id}`): it runs in the
            background after the write, under the tenant's `on_change` setting.
    """

    cedarschema: str
    notices: list[Warning_]
    policy_set_version: int
    reevaluation_id: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cedarschema = self.cedarschema

        notices = []
        for notices_item_data in self.notices:
            notices_item = notices_item_data.to_dict()
            notices.append(notices_item)

        policy_set_version = self.policy_set_version

        reevaluation_id = self.reevaluation_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cedarschema": cedarschema,
                "notices": notices,
                "policy_set_version": policy_set_version,
                "reevaluation_id": reevaluation_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.warning import Warning_

        d = dict(src_dict)
        cedarschema = d.pop("cedarschema")

        notices = []
        _notices = d.pop("notices")
        for notices_item_data in _notices:
            notices_item = Warning_.from_dict(notices_item_data)

            notices.append(notices_item)

        policy_set_version = d.pop("policy_set_version")

        reevaluation_id = d.pop("reevaluation_id")

        schema_written = cls(
            cedarschema=cedarschema,
            notices=notices,
            policy_set_version=policy_set_version,
            reevaluation_id=reevaluation_id,
        )

        schema_written.additional_properties = d
        return schema_written

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
