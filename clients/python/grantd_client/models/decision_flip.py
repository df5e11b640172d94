from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.entity_ref import EntityRef
    from ..models.outcome import Outcome


T = TypeVar("T", bound="DecisionFlip")


@_attrs_define
class DecisionFlip:
    """
    Attributes:
        action (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        after (Outcome): A decision as recorded, or as re-decided.
        at (datetime.datetime):
        before (Outcome): A decision as recorded, or as re-decided.
        event_id (str): The recorded event (`GET /v1/audit/events` shows it whole).
        kind (str): `authorize`, `grant.request` or `grant.extend`.
        principal (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        resource (EntityRef): A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
            name's limits ([`check_entity_name`]), so no request names an entity that
            a backend could not store.
        seq (int):
        policy_set_version (int | None | Unset): The policy-set version it was decided on.
    """

    action: EntityRef
    after: Outcome
    at: datetime.datetime
    before: Outcome
    event_id: str
    kind: str
    principal: EntityRef
    resource: EntityRef
    seq: int
    policy_set_version: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        action = self.action.to_dict()

        after = self.after.to_dict()

        at = self.at.isoformat()

        before = self.before.to_dict()

        event_id = self.event_id

        kind = self.kind

        principal = self.principal.to_dict()

        resource = self.resource.to_dict()

        seq = self.seq

        policy_set_version: int | None | Unset
        if isinstance(self.policy_set_version, Unset):
            policy_set_version = UNSET
        else:
            policy_set_version = self.policy_set_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action": action,
                "after": after,
                "at": at,
                "before": before,
                "event_id": event_id,
                "kind": kind,
                "principal": principal,
                "resource": resource,
                "seq": seq,
            }
        )
        if policy_set_version is not UNSET:
            field_dict["policy_set_version"] = policy_set_version

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.entity_ref import EntityRef
        from ..models.outcome import Outcome

        d = dict(src_dict)
        action = EntityRef.from_dict(d.pop("action"))

        after = Outcome.from_dict(d.pop("after"))

        at = datetime.datetime.fromisoformat(d.pop("at"))

        before = Outcome.from_dict(d.pop("before"))

        event_id = d.pop("event_id")

        kind = d.pop("kind")

        principal = EntityRef.from_dict(d.pop("principal"))

        resource = EntityRef.from_dict(d.pop("resource"))

        seq = d.pop("seq")

        def _parse_policy_set_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        policy_set_version = _parse_policy_set_version(
            d.pop("policy_set_version", UNSET)
        )

        decision_flip = cls(
            action=action,
            after=after,
            at=at,
            before=before,
            event_id=event_id,
            kind=kind,
            principal=principal,
            resource=resource,
            seq=seq,
            policy_set_version=policy_set_version,
        )

        decision_flip.additional_properties = d
        return decision_flip

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
