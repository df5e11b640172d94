from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.grant_status import GrantStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.entity_ref import EntityRef
    from ..models.update_body_context_type_0 import UpdateBodyContextType0


T = TypeVar("T", bound="UpdateBody")


@_attrs_define
class UpdateBody:
    """
    Attributes:
        context (None | Unset | UpdateBodyContextType0):
        expires_at (datetime.datetime | None | Unset): Shortens the grant (any role that may write grants): after now
            and earlier than the
            current `expires_at`; no re-decision. Extending is `POST /v1/grants/{id}/extend`.
        granted_at (datetime.datetime | None | Unset): Admin-only; not after now (it may be before `created_at`: a grant
            recorded after it
            was given); `expires_at` stays.
        granted_by (None | str | Unset): Admin-only.
        policy_id (None | str | Unset): Admin-only: move the grant to another policy (re-evaluated).
        policy_key (None | str | Unset):
        resource (EntityRef | None | Unset):
        scopes (list[str] | None | Unset): Replaces the scopes (re-evaluated as `Action::"request"`).
        status (GrantStatus | None | Unset):
    """

    context: None | Unset | UpdateBodyContextType0 = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET
    granted_at: datetime.datetime | None | Unset = UNSET
    granted_by: None | str | Unset = UNSET
    policy_id: None | str | Unset = UNSET
    policy_key: None | str | Unset = UNSET
    resource: EntityRef | None | Unset = UNSET
    scopes: list[str] | None | Unset = UNSET
    status: GrantStatus | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.entity_ref import EntityRef
        from ..models.update_body_context_type_0 import UpdateBodyContextType0

        context: dict[str, Any] | None | Unset
        if isinstance(self.context, Unset):
            context = UNSET
        elif isinstance(self.context, UpdateBodyContextType0):
            context = self.context.to_dict()
        else:
            context = self.context

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        granted_at: None | str | Unset
        if isinstance(self.granted_at, Unset):
            granted_at = UNSET
        elif isinstance(self.granted_at, datetime.datetime):
            granted_at = self.granted_at.isoformat()
        else:
            granted_at = self.granted_at

        granted_by: None | str | Unset
        if isinstance(self.granted_by, Unset):
            granted_by = UNSET
        else:
            granted_by = self.granted_by

        policy_id: None | str | Unset
        if isinstance(self.policy_id, Unset):
            policy_id = UNSET
        else:
            policy_id = self.policy_id

        policy_key: None | str | Unset
        if isinstance(self.policy_key, Unset):
            policy_key = UNSET
        else:
            policy_key = self.policy_key

        resource: dict[str, Any] | None | Unset
        if isinstance(self.resource, Unset):
            resource = UNSET
        elif isinstance(self.resource, EntityRef):
            resource = self.resource.to_dict()
        else:
            resource = self.resource

        scopes: list[str] | None | Unset
        if isinstance(self.scopes, Unset):
            scopes = UNSET
        elif isinstance(self.scopes, list):
            scopes = self.scopes

        else:
            scopes = self.scopes

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        elif isinstance(self.status, GrantStatus):
            status = self.status.value
        else:
            status = self.status

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if context is not UNSET:
            field_dict["context"] = context
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if granted_at is not UNSET:
            field_dict["granted_at"] = granted_at
        if granted_by is not UNSET:
            field_dict["granted_by"] = granted_by
        if policy_id is not UNSET:
            field_dict["policy_id"] = policy_id
        if policy_key is not UNSET:
            field_dict["policy_key"] = policy_key
        if resource is not UNSET:
            field_dict["resource"] = resource
        if scopes is not UNSET:
            field_dict["scopes"] = scopes
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.entity_ref import EntityRef
        from ..models.update_body_context_type_0 import UpdateBodyContextType0

        d = dict(src_dict)

        def _parse_context(data: object) -> None | Unset | UpdateBodyContextType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                context_type_0 = UpdateBodyContextType0.from_dict(data)

                return context_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UpdateBodyContextType0, data)

        context = _parse_context(d.pop("context", UNSET))

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

        def _parse_granted_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                granted_at_type_0 = datetime.datetime.fromisoformat(data)

                return granted_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        granted_at = _parse_granted_at(d.pop("granted_at", UNSET))

        def _parse_granted_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        granted_by = _parse_granted_by(d.pop("granted_by", UNSET))

        def _parse_policy_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        policy_id = _parse_policy_id(d.pop("policy_id", UNSET))

        def _parse_policy_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        policy_key = _parse_policy_key(d.pop("policy_key", UNSET))

        def _parse_resource(data: object) -> EntityRef | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                resource_type_1 = EntityRef.from_dict(data)

                return resource_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EntityRef | None | Unset, data)

        resource = _parse_resource(d.pop("resource", UNSET))

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

        def _parse_status(data: object) -> GrantStatus | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                status_type_1 = GrantStatus(data)

                return status_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(GrantStatus | None | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        update_body = cls(
            context=context,
            expires_at=expires_at,
            granted_at=granted_at,
            granted_by=granted_by,
            policy_id=policy_id,
            policy_key=policy_key,
            resource=resource,
            scopes=scopes,
            status=status,
        )

        return update_body
