from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.case_context_type_0 import CaseContextType0
    from ..models.case_entities_type_0_item import CaseEntitiesType0Item
    from ..models.entity_ref import EntityRef


T = TypeVar("T", bound="Case")


@_attrs_define
class Case:
    """One request and what is expected of it.

    Attributes:
        action (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        decision (str): `allow` or `deny`.
        principal (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        resource (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        context (CaseContextType0 | None | Unset):
        deny_reason (None | str | Unset): When given: `forbid`, `no_permit` or `error`.
        determining (list[str] | None | Unset): When given: the keys of the policies whose rules determined the
            decision, in any
            order (a stored policy without a key is named by its id).
        entities (list[CaseEntitiesType0Item] | None | Unset): Entities for this case only, as `POST /v1/authorize`
            takes them.
        name (None | str | Unset): Shown in reports; default: the case's place (`file.json#3`, or `cases[3]`).
    """

    action: EntityRef
    decision: str
    principal: EntityRef
    resource: EntityRef
    context: CaseContextType0 | None | Unset = UNSET
    deny_reason: None | str | Unset = UNSET
    determining: list[str] | None | Unset = UNSET
    entities: list[CaseEntitiesType0Item] | None | Unset = UNSET
    name: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.case_context_type_0 import CaseContextType0

        action = self.action.to_dict()

        decision = self.decision

        principal = self.principal.to_dict()

        resource = self.resource.to_dict()

        context: dict[str, Any] | None | Unset
        if isinstance(self.context, Unset):
            context = UNSET
        elif isinstance(self.context, CaseContextType0):
            context = self.context.to_dict()
        else:
            context = self.context

        deny_reason: None | str | Unset
        if isinstance(self.deny_reason, Unset):
            deny_reason = UNSET
        else:
            deny_reason = self.deny_reason

        determining: list[str] | None | Unset
        if isinstance(self.determining, Unset):
            determining = UNSET
        elif isinstance(self.determining, list):
            determining = self.determining

        else:
            determining = self.determining

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

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action": action,
                "decision": decision,
                "principal": principal,
                "resource": resource,
            }
        )
        if context is not UNSET:
            field_dict["context"] = context
        if deny_reason is not UNSET:
            field_dict["deny_reason"] = deny_reason
        if determining is not UNSET:
            field_dict["determining"] = determining
        if entities is not UNSET:
            field_dict["entities"] = entities
        if name is not UNSET:
            field_dict["name"] = name

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.case_context_type_0 import CaseContextType0
        from ..models.case_entities_type_0_item import CaseEntitiesType0Item
        from ..models.entity_ref import EntityRef

        d = dict(src_dict)
        action = EntityRef.from_dict(d.pop("action"))

        decision = d.pop("decision")

        principal = EntityRef.from_dict(d.pop("principal"))

        resource = EntityRef.from_dict(d.pop("resource"))

        def _parse_context(data: object) -> CaseContextType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                context_type_0 = CaseContextType0.from_dict(data)

                return context_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CaseContextType0 | None | Unset, data)

        context = _parse_context(d.pop("context", UNSET))

        def _parse_deny_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deny_reason = _parse_deny_reason(d.pop("deny_reason", UNSET))

        def _parse_determining(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                determining_type_0 = cast(list[str], data)

                return determining_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        determining = _parse_determining(d.pop("determining", UNSET))

        def _parse_entities(data: object) -> list[CaseEntitiesType0Item] | None | Unset:
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
                    entities_type_0_item = CaseEntitiesType0Item.from_dict(
                        entities_type_0_item_data
                    )

                    entities_type_0.append(entities_type_0_item)

                return entities_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[CaseEntitiesType0Item] | None | Unset, data)

        entities = _parse_entities(d.pop("entities", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        case = cls(
            action=action,
            decision=decision,
            principal=principal,
            resource=resource,
            context=context,
            deny_reason=deny_reason,
            determining=determining,
            entities=entities,
            name=name,
        )

        return case
