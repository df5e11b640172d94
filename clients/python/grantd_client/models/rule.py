from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.action_scope_type import ActionScopeType
from ..models.effect import Effect
from ..models.scope_type import ScopeType
from ..types import UNSET, Unset

T = TypeVar("T", bound="Rule")


@_attrs_define
class Rule:
    """A stored rule, as the API returns it.

    Attributes:
        action_scope_type (ActionScopeType):
        audit_session (bool):
        created_at (datetime.datetime):
        effect (Effect):
        id (UUID):
        ordinal (int):
        policy_text (str): The assembled Cedar text of this rule.
        principal_scope_type (ScopeType):
        resource_scope_type (ScopeType):
        action_ids (list[str] | None | Unset):
        conditions (None | str | Unset): Raw Cedar `when {...}` / `unless {...}` clauses.
        notice (None | str | Unset): A user-facing message shown when this rule determines a decision.
        principal_entity_id (None | str | Unset):
        principal_entity_type (None | str | Unset):
        resource_entity_id (None | str | Unset):
        resource_entity_type (None | str | Unset):
    """

    action_scope_type: ActionScopeType
    audit_session: bool
    created_at: datetime.datetime
    effect: Effect
    id: UUID
    ordinal: int
    policy_text: str
    principal_scope_type: ScopeType
    resource_scope_type: ScopeType
    action_ids: list[str] | None | Unset = UNSET
    conditions: None | str | Unset = UNSET
    notice: None | str | Unset = UNSET
    principal_entity_id: None | str | Unset = UNSET
    principal_entity_type: None | str | Unset = UNSET
    resource_entity_id: None | str | Unset = UNSET
    resource_entity_type: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        action_scope_type = self.action_scope_type.value

        audit_session = self.audit_session

        created_at = self.created_at.isoformat()

        effect = self.effect.value

        id = str(self.id)

        ordinal = self.ordinal

        policy_text = self.policy_text

        principal_scope_type = self.principal_scope_type.value

        resource_scope_type = self.resource_scope_type.value

        action_ids: list[str] | None | Unset
        if isinstance(self.action_ids, Unset):
            action_ids = UNSET
        elif isinstance(self.action_ids, list):
            action_ids = self.action_ids

        else:
            action_ids = self.action_ids

        conditions: None | str | Unset
        if isinstance(self.conditions, Unset):
            conditions = UNSET
        else:
            conditions = self.conditions

        notice: None | str | Unset
        if isinstance(self.notice, Unset):
            notice = UNSET
        else:
            notice = self.notice

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
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action_scope_type": action_scope_type,
                "audit_session": audit_session,
                "created_at": created_at,
                "effect": effect,
                "id": id,
                "ordinal": ordinal,
                "policy_text": policy_text,
                "principal_scope_type": principal_scope_type,
                "resource_scope_type": resource_scope_type,
            }
        )
        if action_ids is not UNSET:
            field_dict["action_ids"] = action_ids
        if conditions is not UNSET:
            field_dict["conditions"] = conditions
        if notice is not UNSET:
            field_dict["notice"] = notice
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

        audit_session = d.pop("audit_session")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        effect = Effect(d.pop("effect"))

        id = UUID(d.pop("id"))

        ordinal = d.pop("ordinal")

        policy_text = d.pop("policy_text")

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

        def _parse_conditions(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        conditions = _parse_conditions(d.pop("conditions", UNSET))

        def _parse_notice(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        notice = _parse_notice(d.pop("notice", UNSET))

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

        rule = cls(
            action_scope_type=action_scope_type,
            audit_session=audit_session,
            created_at=created_at,
            effect=effect,
            id=id,
            ordinal=ordinal,
            policy_text=policy_text,
            principal_scope_type=principal_scope_type,
            resource_scope_type=resource_scope_type,
            action_ids=action_ids,
            conditions=conditions,
            notice=notice,
            principal_entity_id=principal_entity_id,
            principal_entity_type=principal_entity_type,
            resource_entity_id=resource_entity_id,
            resource_entity_type=resource_entity_type,
        )

        rule.additional_properties = d
        return rule

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
