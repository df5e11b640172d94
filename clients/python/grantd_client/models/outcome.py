from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.determining import Determining


T = TypeVar("T", bound="Outcome")


@_attrs_define
class Outcome:
    """A decision as recorded, or as re-decided.

    Attributes:
        decision (str): `allow` or `deny`.
        deny_reason (None | str | Unset):
        determining (list[Determining] | None | Unset):
        error (None | str | Unset): Why the request could not be decided at all under the candidate set (then `deny`,
            `error`).
        notices (list[str] | None | Unset):
    """

    decision: str
    deny_reason: None | str | Unset = UNSET
    determining: list[Determining] | None | Unset = UNSET
    error: None | str | Unset = UNSET
    notices: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
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

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

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
                "decision": decision,
            }
        )
        if deny_reason is not UNSET:
            field_dict["deny_reason"] = deny_reason
        if determining is not UNSET:
            field_dict["determining"] = determining
        if error is not UNSET:
            field_dict["error"] = error
        if notices is not UNSET:
            field_dict["notices"] = notices

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.determining import Determining

        d = dict(src_dict)
        decision = d.pop("decision")

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

        outcome = cls(
            decision=decision,
            deny_reason=deny_reason,
            determining=determining,
            error=error,
            notices=notices,
        )

        outcome.additional_properties = d
        return outcome

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
