from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.entity_ref import EntityRef


T = TypeVar("T", bound="AccessCheckBody")


@_attrs_define
class AccessCheckBody:
    """
    Attributes:
        principal (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        resource (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        scopes (list[str] | None | Unset):
    """

    principal: EntityRef
    resource: EntityRef
    scopes: list[str] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        principal = self.principal.to_dict()

        resource = self.resource.to_dict()

        scopes: list[str] | None | Unset
        if isinstance(self.scopes, Unset):
            scopes = UNSET
        elif isinstance(self.scopes, list):
            scopes = self.scopes

        else:
            scopes = self.scopes

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "principal": principal,
                "resource": resource,
            }
        )
        if scopes is not UNSET:
            field_dict["scopes"] = scopes

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.entity_ref import EntityRef

        d = dict(src_dict)
        principal = EntityRef.from_dict(d.pop("principal"))

        resource = EntityRef.from_dict(d.pop("resource"))

        def _parse_scopes(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                scopes_type_0 = cast(list[str], data)

                return scopes_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        scopes = _parse_scopes(d.pop("scopes", UNSET))

        access_check_body = cls(
            principal=principal,
            resource=resource,
            scopes=scopes,
        )

        return access_check_body
