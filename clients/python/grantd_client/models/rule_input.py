from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.action_scope_type import ActionScopeType
from ..models.effect import Effect
from ..models.scope_type import ScopeType
from ..types import UNSET, Unset

T = TypeVar("T", bound="RuleInput")


@_attrs_define
class RuleInput:
    """A rule as written by an author. Read-only fields (`policy_text`, `created_at`) may be
    sent back and are ignored; `id` keeps an existing rule's id on PATCH.

        Attributes:
            action_scope_type (ActionScopeType):
            effect (Effect):
            principal_scope_type (ScopeType):
            resource_scope_type (ScopeType):
            action_ids (list[str] | None | Unset):
            audit_session (bool | None | Unset): Default false.
            conditions (None | str | Unset):
            id (None | Unset | UUID): Keeps this existing rule's id (PATCH); ignored on create.
            notice (None | str | Unset):
            ordinal (int | None | Unset): Default: the rule's position in the list (0-based).
            principal_entity_id (None | str | Unset):
            principal_entity_type (None | str | Unset):
            resource_entity_id (None | str | Unset):
            resource_entity_type (None | str | Unset):
    """

    action_scope_type: ActionScopeType
    effect: Effect
    principal_scope_type: ScopeType
    resource_scope_type: ScopeType
    action_ids: list[str] | None | Unset = UNSET
    audit_session: bool | None | Unset = UNSET
    conditions: None | str | Unset = UNSET
    id: None | Unset | UUID = UNSET
    notice: None | str | Unset = UNSET
    ordinal: int | None | Unset = UNSET
    principal_entity_id: None | str | Unset = UNSET
    principal_entity_type: None | str | Unset = UNSET
    resource_entity_id: None | str | Unset = UNSET
    resource_entity_type: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        action_scope_type = self.action_scope_type.value

        effect = self.effect.value

        principal_scope_type = self.principal_scope_type.value

        resource_scope_type = self.resource_scope_type.value

        action_ids: list[str] | None | Unset
        if isinstance(self.action_ids, Unset):
            action_ids = UNSET
        elif isinstance(self.action_ids, list):
            action_ids = self.action_ids

        else:
            action_ids = self.action_ids

        audit_session: bool | None | Unset
        if isinstance(self.audit_session, Unset):
            audit_session = UNSET
        else:
            audit_session = self.audit_session

        conditions: None | str | Unset
        if isinstance(self.conditions, Unset):
            conditions = UNSET
        else:
            conditions = self.conditions

        id: None | str | Unset
        if isinstance(self.id, Unset):
            id = UNSET
        elif isinstance(self.id, UUID):
            id = str(self.id)
        else:
            id = self.id

        notice: None | str | Unset
        if isinstance(self.notice, Unset):
            notice = UNSET
        else:
            notice = self.notice

        ordinal: int | None | Unset
        if isinstance(self.ordinal, Unset):
            ordinal = UNSET
        else:
            ordinal = self.ordinal

        principal_entity_id: None | str | Unset
        if isinstance(self.principal_entity_id, Unset):
            principal_entity_id = UNSET
        else:
            principal_entity_id = self.principal_entity_id

        principal_entity_type: None | str | Unset
        if isinstance(self.principal_entity_type, Unset):
            principal_entity_type = UNSET
        else:
            principal_entity_type = self.principal_entity_type

        resource_entity_id: None | str | Unset
        if isinstance(self.resource_entity_id, Unset):
            resource_entity_id = UNSET
        else:
            resource_entity_id = self.resource_entity_id

        resource_entity_type: None | str | Unset
        if isinstance(self.resource_entity_type, Unset):
            resource_entity_type = UNSET
        else:
            resource_entity_type = self.resource_entity_type

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action_scope_type": action_scope_type,
                "effect": effect,
                "principal_scope_type": principal_scope_type,
                "resource_scope_type": resource_scope_type,
            }
        )
        if action_ids is not UNSET:
            field_dict["action_ids"] = action_ids
        if audit_session is not UNSET:
            field_dict["audit_session"] = audit_session
        if conditions is not UNSET:
            field_dict["conditions"] = conditions
        if id is not UNSET:
            field_dict["id"] = id
        if notice is not UNSET:
            field_dict["notice"] = notice
        if ordinal is not UNSET:
            field_dict["ordinal"] = ordinal
        if principal_entity_id is not UNSET:
            field_dict["principal_entity_id"] = principal_entity_id
        if principal_entity_type is not UNSET:
            field_dict["principal_entity_type"] = principal_entity_type
        if resource_entity_id is not UNSET:
            field_dict["resource_entity_id"] = resource_entity_id
        if resource_entity_type is not UNSET:
            field_dict["resource_entity_type"] = resource_entity_type

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        action_scope_type = ActionScopeType(d.pop("action_scope_type"))

        effect = Effect(d.pop("effect"))

        principal_scope_type = ScopeType(d.pop("principal_scope_type"))

        resource_scope_type = ScopeType(d.pop("resource_scope_type"))

        def _parse_action_ids(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                action_ids_type_0 = cast(list[str], data)

                return action_ids_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        action_ids = _parse_action_ids(d.pop("action_ids", UNSET))

        def _parse_audit_session(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        audit_session = _parse_audit_session(d.pop("audit_session", UNSET))

        def _parse_conditions(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        conditions = _parse_conditions(d.pop("conditions", UNSET))

        def _parse_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                id_type_0 = UUID(data)

                return id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        id = _parse_id(d.pop("id", UNSET))

        def _parse_notice(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        notice = _parse_notice(d.pop("notice", UNSET))

        def _parse_ordinal(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ordinal = _parse_ordinal(d.pop("ordinal", UNSET))

        def _parse_principal_entity_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        principal_entity_id = _parse_principal_entity_id(
            d.pop("principal_entity_id", UNSET)
        )

        def _parse_principal_entity_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        principal_entity_type = _parse_principal_entity_type(
            d.pop("principal_entity_type", UNSET)
        )

        def _parse_resource_entity_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        resource_entity_id = _parse_resource_entity_id(
            d.pop("resource_entity_id", UNSET)
        )

        def _parse_resource_entity_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        resource_entity_type = _parse_resource_entity_type(
            d.pop("resource_entity_type", UNSET)
        )

        rule_input = cls(
            action_scope_type=action_scope_type,
            effect=effect,
            principal_scope_type=principal_scope_type,
            resource_scope_type=resource_scope_type,
            action_ids=action_ids,
            audit_session=audit_session,
            conditions=conditions,
            id=id,
            notice=notice,
            ordinal=ordinal,
            principal_entity_id=principal_entity_id,
            principal_entity_type=principal_entity_type,
            resource_entity_id=resource_entity_id,
            resource_entity_type=resource_entity_type,
        )

        return rule_input
