from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_kind import EventKind
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.actor import Actor
    from ..models.determining import Determining
    from ..models.event_content_request import EventContentRequest
    from ..models.subject import Subject


T = TypeVar("T", bound="EventContent")


@_attrs_define
class EventContent:
    """The hashed content of an event: everything but the hashes themselves.

    Attributes:
        actor (Actor): Who did it. `key_id` is the API key's id, or `"cli"` for the command line.
        at (datetime.datetime):
        id (UUID):
        kind (EventKind):
        seq (int):
        subject (Subject):
        decision (None | str | Unset):
        deny_reason (None | str | Unset):
        determining (list[Determining] | None | Unset):
        notices (list[str] | None | Unset):
        policy_set_version (int | None | Unset):
        request (EventContentRequest | Unset):
    """

    actor: Actor
    at: datetime.datetime
    id: UUID
    kind: EventKind
    seq: int
    subject: Subject
    decision: None | str | Unset = UNSET
    deny_reason: None | str | Unset = UNSET
    determining: list[Determining] | None | Unset = UNSET
    notices: list[str] | None | Unset = UNSET
    policy_set_version: int | None | Unset = UNSET
    request: EventContentRequest | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        actor = self.actor.to_dict()

        at = self.at.isoformat()

        id = str(self.id)

        kind = self.kind.value

        seq = self.seq

        subject = self.subject.to_dict()

        decision: None | str | Unset
        if isinstance(self.decision, Unset):
            decision = UNSET
        else:
            decision = self.decision

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

        notices: list[str] | None | Unset
        if isinstance(self.notices, Unset):
            notices = UNSET
        elif isinstance(self.notices, list):
            notices = self.notices

        else:
            notices = self.notices

        policy_set_version: int | None | Unset
        if isinstance(self.policy_set_version, Unset):
            policy_set_version = UNSET
        else:
            policy_set_version = self.policy_set_version

        request: dict[str, Any] | Unset = UNSET
        if not isinstance(self.request, Unset):
            request = self.request.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "actor": actor,
                "at": at,
                "id": id,
                "kind": kind,
                "seq": seq,
                "subject": subject,
            }
        )
        if decision is not UNSET:
            field_dict["decision"] = decision
        if deny_reason is not UNSET:
            field_dict["deny_reason"] = deny_reason
        if determining is not UNSET:
            field_dict["determining"] = determining
        if notices is not UNSET:
            field_dict["notices"] = notices
        if policy_set_version is not UNSET:
            field_dict["policy_set_version"] = policy_set_version
        if request is not UNSET:
            field_dict["request"] = request

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.actor import Actor
        from ..models.determining import Determining
        from ..models.event_content_request import EventContentRequest
        from ..models.subject import Subject

        d = dict(src_dict)
        actor = Actor.from_dict(d.pop("actor"))

        at = datetime.datetime.fromisoformat(d.pop("at"))

        id = UUID(d.pop("id"))

        kind = EventKind(d.pop("kind"))

        seq = d.pop("seq")

        subject = Subject.from_dict(d.pop("subject"))

        def _parse_decision(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        decision = _parse_decision(d.pop("decision", UNSET))

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

        def _parse_policy_set_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        policy_set_version = _parse_policy_set_version(
            d.pop("policy_set_version", UNSET)
        )

        _request = d.pop("request", UNSET)
        request: EventContentRequest | Unset
        if isinstance(_request, Unset):
            request = UNSET
        else:
            request = EventContentRequest.from_dict(_request)

        event_content = cls(
            actor=actor,
            at=at,
            id=id,
            kind=kind,
            seq=seq,
            subject=subject,
            decision=decision,
            deny_reason=deny_reason,
            determining=determining,
            notices=notices,
            policy_set_version=policy_set_version,
            request=request,
        )

        event_content.additional_properties = d
        return event_content

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
