from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.authorize_request_context_type_0 import AuthorizeRequestContextType0
    from ..models.authorize_request_entities_type_0_item import (
        AuthorizeRequestEntitiesType0Item,
    )
    from ..models.entity_ref import EntityRef


T = TypeVar("T", bound="AuthorizeRequest")


@_attrs_define
class AuthorizeRequest:
    """
    Attributes:
        action (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        principal (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        resource (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        context (AuthorizeRequestContextType0 | None | Unset): Validated against the action's context type in the
            schema.
        entities (list[AuthorizeRequestEntitiesType0Item] | None | Unset): Entities for this call only (Cedar JSON);
            they may add entities the store lacks but
            not name a stored one.
    """

    action: EntityRef
    principal: EntityRef
    resource: EntityRef
    context: AuthorizeRequestContextType0 | None | Unset = UNSET
    entities: list[AuthorizeRequestEntitiesType0Item] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.authorize_request_context_type_0 import (
            AuthorizeRequestContextType0,
        )

        action = self.action.to_dict()

        principal = self.principal.to_dict()

        resource = self.resource.to_dict()

        context: dict[str, Any] | None | Unset
        if isinstance(self.context, Unset):
            context = UNSET
        elif isinstance(self.context, AuthorizeRequestContextType0):
            context = self.context.to_dict()
        else:
            context = self.context

        entities: list[dict[str, Any]] | None | Unset
        if isinstance(self.entities, Unset):
            entities = UNSET
        elif isinstance(self.entities, list):
            entities = []
            for entities_type_0_item_data in self.entities:
                entities_type_0_item = entities_type_0_item_data.to_dict()
                entities.append(entities_type_0_item)

        else:
            entities = self.entities

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action": action,
                "principal": principal,
                "resource": resource,
            }
        )
        if context is not UNSET:
            field_dict["context"] = context
        if entities is not UNSET:
            field_dict["entities"] = entities

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.authorize_request_context_type_0 import (
            AuthorizeRequestContextType0,
        )
        from ..models.authorize_request_entities_type_0_item import (
            AuthorizeRequestEntitiesType0Item,
        )
        from ..models.entity_ref import EntityRef

        d = dict(src_dict)
        action = EntityRef.from_dict(d.pop("action"))

        principal = EntityRef.from_dict(d.pop("principal"))

        resource = EntityRef.from_dict(d.pop("resource"))

        def _parse_context(data: object) -> AuthorizeRequestContextType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                context_type_0 = AuthorizeRequestContextType0.from_dict(data)

                return context_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AuthorizeRequestContextType0 | None | Unset, data)

        context = _parse_context(d.pop("context", UNSET))

        def _parse_entities(
            data: object,
        ) -> list[AuthorizeRequestEntitiesType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                entities_type_0 = []
                _entities_type_0 = data
                for entities_type_0_item_data in _entities_type_0:
                    entities_type_0_item = AuthorizeRequestEntitiesType0Item.from_dict(
                        entities_type_0_item_data
                    )

                    entities_type_0.append(entities_type_0_item)

                return entities_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[AuthorizeRequestEntitiesType0Item] | None | Unset, data)

        entities = _parse_entities(d.pop("entities", UNSET))

        authorize_request = cls(
            action=action,
            principal=principal,
            resource=resource,
            context=context,
            entities=entities,
        )

        return authorize_request
