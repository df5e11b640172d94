from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.determining import Determining
    from ..models.entity_ref import EntityRef


T = TypeVar("T", bound="GrantChange")


@_attrs_define
class GrantChange:
    """An active grant whose standing the change would change.

    Attributes:
        expires_at (datetime.datetime):
        grant_id (UUID):
        outcome (str): `denied`, `clamped` or `policy_changed`.
        policy_id (UUID): The grant's governing policy now.
        principal (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        resource (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        scopes (list[str]):
        deny_reason (None | str | Unset): `denied`: `forbid`, `no_permit`, or `error` (its request could no longer be
            made;
            `error` says why).
        determining (list[Determining] | None | Unset): `denied`: the determining rules and the notices the decision
            would show.
        error (None | str | Unset):
        new_expires_at (datetime.datetime | None | Unset): `clamped`: the expiry its governing policy's maximum allows.
        new_policy_id (None | Unset | UUID): `clamped` and `policy_changed`: the policy that would govern it.
        new_policy_key (None | str | Unset):
        notices (list[str] | None | Unset):
    """

    expires_at: datetime.datetime
    grant_id: UUID
    outcome: str
    policy_id: UUID
    principal: EntityRef
    resource: EntityRef
    scopes: list[str]
    deny_reason: None | str | Unset = UNSET
    determining: list[Determining] | None | Unset = UNSET
    error: None | str | Unset = UNSET
    new_expires_at: datetime.datetime | None | Unset = UNSET
    new_policy_id: None | Unset | UUID = UNSET
    new_policy_key: None | str | Unset = UNSET
    notices: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        expires_at = self.expires_at.isoformat()

        grant_id = str(self.grant_id)

        outcome = self.outcome

        policy_id = str(self.policy_id)

        principal = self.principal.to_dict()

        resource = self.resource.to_dict()

        scopes = self.scopes

        deny_reason: None | str | Unset
        if isinstance(self.deny_reason, Unset):
            deny_reason = UNSET
        else:
            deny_reason = self.deny_reason

        determining: list[dict[str, Any]] | None | Unset
        if isinstance(self.determining, Unset):
            determining = UNSET
        elif isinstance(self.determining, list):
            determining = []
            for determining_type_0_item_data in self.determining:
                determining_type_0_item = determining_type_0_item_data.to_dict()
                determining.append(determining_type_0_item)

        else:
            determining = self.determining

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        new_expires_at: None | str | Unset
        if isinstance(self.new_expires_at, Unset):
            new_expires_at = UNSET
        elif isinstance(self.new_expires_at, datetime.datetime):
            new_expires_at = self.new_expires_at.isoformat()
        else:
            new_expires_at = self.new_expires_at

        new_policy_id: None | str | Unset
        if isinstance(self.new_policy_id, Unset):
            new_policy_id = UNSET
        elif isinstance(self.new_policy_id, UUID):
            new_policy_id = str(self.new_policy_id)
        else:
            new_policy_id = self.new_policy_id

        new_policy_key: None | str | Unset
        if isinstance(self.new_policy_key, Unset):
            new_policy_key = UNSET
        else:
            new_policy_key = self.new_policy_key

        notices: list[str] | None | Unset
        if isinstance(self.notices, Unset):
            notices = UNSET
        elif isinstance(self.notices, list):
            notices = self.notices

        else:
            notices = self.notices

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "expires_at": expires_at,
                "grant_id": grant_id,
                "outcome": outcome,
                "policy_id": policy_id,
                "principal": principal,
                "resource": resource,
                "scopes": scopes,
            }
        )
        if deny_reason is not UNSET:
            field_dict["deny_reason"] = deny_reason
        if determining is not UNSET:
            field_dict["determining"] = determining
        if error is not UNSET:
            field_dict["error"] = error
        if new_expires_at is not UNSET:
            field_dict["new_expires_at"] = new_expires_at
        if new_policy_id is not UNSET:
            field_dict["new_policy_id"] = new_policy_id
        if new_policy_key is not UNSET:
            field_dict["new_policy_key"] = new_policy_key
        if notices is not UNSET:
            field_dict["notices"] = notices

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.determining import Determining
        from ..models.entity_ref import EntityRef

        d = dict(src_dict)
        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        grant_id = UUID(d.pop("grant_id"))

        outcome = d.pop("outcome")

        policy_id = UUID(d.pop("policy_id"))

        principal = EntityRef.from_dict(d.pop("principal"))

        resource = EntityRef.from_dict(d.pop("resource"))

        scopes = cast(list[str], d.pop("scopes"))

        def _parse_deny_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deny_reason = _parse_deny_reason(d.pop("deny_reason", UNSET))

        def _parse_determining(data: object) -> list[Determining] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                determining_type_0 = []
                _determining_type_0 = data
                for determining_type_0_item_data in _determining_type_0:
                    determining_type_0_item = Determining.from_dict(
                        determining_type_0_item_data
                    )

                    determining_type_0.append(determining_type_0_item)

                return determining_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Determining] | None | Unset, data)

        determining = _parse_determining(d.pop("determining", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_new_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                new_expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return new_expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        new_expires_at = _parse_new_expires_at(d.pop("new_expires_at", UNSET))

        def _parse_new_policy_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                new_policy_id_type_0 = UUID(data)

                return new_policy_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        new_policy_id = _parse_new_policy_id(d.pop("new_policy_id", UNSET))

        def _parse_new_policy_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        new_policy_key = _parse_new_policy_key(d.pop("new_policy_key", UNSET))

        def _parse_notices(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                notices_type_0 = cast(list[str], data)

                return notices_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        notices = _parse_notices(d.pop("notices", UNSET))

        grant_change = cls(
            expires_at=expires_at,
            grant_id=grant_id,
            outcome=outcome,
            policy_id=policy_id,
            principal=principal,
            resource=resource,
            scopes=scopes,
            deny_reason=deny_reason,
            determining=determining,
            error=error,
            new_expires_at=new_expires_at,
            new_policy_id=new_policy_id,
            new_policy_key=new_policy_key,
            notices=notices,
        )

        grant_change.additional_properties = d
        return grant_change

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
