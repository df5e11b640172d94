from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.entity_ref import EntityRef
    from ..models.request_body_context_type_0 import RequestBodyContextType0


T = TypeVar("T", bound="RequestBody")


@_attrs_define
class RequestBody:
    """
    Attributes:
        principal (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        resource (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        context (None | RequestBodyContextType0 | Unset): Extra context keys (declared by the schema; not a
            `GrantContext` field).
        duration_seconds (int | None | Unset): Default: the governing policy's default, else its max; never above its
            max.
        reason (None | str | Unset):
        scopes (list[str] | None | Unset):
    """

    principal: EntityRef
    resource: EntityRef
    context: None | RequestBodyContextType0 | Unset = UNSET
    duration_seconds: int | None | Unset = UNSET
    reason: None | str | Unset = UNSET
    scopes: list[str] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.request_body_context_type_0 import RequestBodyContextType0

        principal = self.principal.to_dict()

        resource = self.resource.to_dict()

        context: dict[str, Any] | None | Unset
        if isinstance(self.context, Unset):
            context = UNSET
        elif isinstance(self.context, RequestBodyContextType0):
            context = self.context.to_dict()
        else:
            context = self.context

        duration_seconds: int | None | Unset
        if isinstance(self.duration_seconds, Unset):
            duration_seconds = UNSET
        else:
            duration_seconds = self.duration_seconds

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

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
        if context is not UNSET:
            field_dict["context"] = context
        if duration_seconds is not UNSET:
            field_dict["duration_seconds"] = duration_seconds
        if reason is not UNSET:
            field_dict["reason"] = reason
        if scopes is not UNSET:
            field_dict["scopes"] = scopes

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.entity_ref import EntityRef
        from ..models.request_body_context_type_0 import RequestBodyContextType0

        d = dict(src_dict)
        principal = EntityRef.from_dict(d.pop("principal"))

        resource = EntityRef.from_dict(d.pop("resource"))

        def _parse_context(data: object) -> None | RequestBodyContextType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                context_type_0 = RequestBodyContextType0.from_dict(data)

                return context_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RequestBodyContextType0 | Unset, data)

        context = _parse_context(d.pop("context", UNSET))

        def _parse_duration_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        duration_seconds = _parse_duration_seconds(d.pop("duration_seconds", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

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

        request_body = cls(
            principal=principal,
            resource=resource,
            context=context,
            duration_seconds=duration_seconds,
            reason=reason,
            scopes=scopes,
        )

        return request_body
