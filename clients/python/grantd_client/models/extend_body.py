from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.extend_body_context_type_0 import ExtendBodyContextType0


T = TypeVar("T", bound="ExtendBody")


@_attrs_define
class ExtendBody:
    """
    Attributes:
        context (ExtendBodyContextType0 | None | Unset):
        duration_seconds (int | None | Unset): The new expiry is now + this (> 0).
        expires_at (datetime.datetime | None | Unset): Or the new expiry itself (after now).
    """

    context: ExtendBodyContextType0 | None | Unset = UNSET
    duration_seconds: int | None | Unset = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.extend_body_context_type_0 import ExtendBodyContextType0

        context: dict[str, Any] | None | Unset
        if isinstance(self.context, Unset):
            context = UNSET
        elif isinstance(self.context, ExtendBodyContextType0):
            context = self.context.to_dict()
        else:
            context = self.context

        duration_seconds: int | None | Unset
        if isinstance(self.duration_seconds, Unset):
            duration_seconds = UNSET
        else:
            duration_seconds = self.duration_seconds

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if context is not UNSET:
            field_dict["context"] = context
        if duration_seconds is not UNSET:
            field_dict["duration_seconds"] = duration_seconds
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.extend_body_context_type_0 import ExtendBodyContextType0

        d = dict(src_dict)

        def _parse_context(data: object) -> ExtendBodyContextType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                context_type_0 = ExtendBodyContextType0.from_dict(data)

                return context_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ExtendBodyContextType0 | None | Unset, data)

        context = _parse_context(d.pop("context", UNSET))

        def _parse_duration_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        duration_seconds = _parse_duration_seconds(d.pop("duration_seconds", UNSET))

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

        extend_body = cls(
            context=context,
            duration_seconds=duration_seconds,
            expires_at=expires_at,
        )

        return extend_body
