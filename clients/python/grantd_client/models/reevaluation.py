from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.on_change import OnChange
from ..models.reevaluation_status import ReevaluationStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.applied import Applied
    from ..models.found import Found


T = TypeVar("T", bound="Reevaluation")


@_attrs_define
class Reevaluation:
    """One re-evaluation: the one a configuration write started, named by the
    `policy_set_version` that write committed.

        Attributes:
            applied (Applied): What a re-evaluation did, so far.
            created_at (datetime.datetime):
            found (Found): What a re-evaluation found, grant by grant, so far.
            id (int): Its id: the `policy_set_version` the write committed (also the write's
                `reevaluation_id`).
            on_change (OnChange): What a committed policy, schema or entity write does to the active grants the new
                configuration no longer allows.
            policy_set_version (int):
            status (ReevaluationStatus): Where a re-evaluation is.
            updated_at (datetime.datetime):
            finished_at (datetime.datetime | None | Unset):
    """

    applied: Applied
    created_at: datetime.datetime
    found: Found
    id: int
    on_change: OnChange
    policy_set_version: int
    status: ReevaluationStatus
    updated_at: datetime.datetime
    finished_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        applied = self.applied.to_dict()

        created_at = self.created_at.isoformat()

        found = self.found.to_dict()

        id = self.id

        on_change = self.on_change.value

        policy_set_version = self.policy_set_version

        status = self.status.value

        updated_at = self.updated_at.isoformat()

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        elif isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "applied": applied,
                "created_at": created_at,
                "found": found,
                "id": id,
                "on_change": on_change,
                "policy_set_version": policy_set_version,
                "status": status,
                "updated_at": updated_at,
            }
        )
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.applied import Applied
        from ..models.found import Found

        d = dict(src_dict)
        applied = Applied.from_dict(d.pop("applied"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        found = Found.from_dict(d.pop("found"))

        id = d.pop("id")

        on_change = OnChange(d.pop("on_change"))

        policy_set_version = d.pop("policy_set_version")

        status = ReevaluationStatus(d.pop("status"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_finished_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))

        reevaluation = cls(
            applied=applied,
            created_at=created_at,
            found=found,
            id=id,
            on_change=on_change,
            policy_set_version=policy_set_version,
            status=status,
            updated_at=updated_at,
            finished_at=finished_at,
        )

        reevaluation.additional_properties = d
        return reevaluation

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
