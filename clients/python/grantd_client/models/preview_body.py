from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.preview_body_body_type_0 import PreviewBodyBodyType0


T = TypeVar("T", bound="PreviewBody")


@_attrs_define
class PreviewBody:
    """`POST /v1/changes/preview`.

    Attributes:
        method (str): The write's method: `POST`, `PATCH`, `PUT` or `DELETE`.
        path (str): The write's path (see `ChangeBody`).
        body (None | PreviewBodyBodyType0 | Unset): The write's JSON body (none for DELETE), parsed as the write would
            parse it.
        since (datetime.datetime | None | Unset): Replay recorded decisions from this time (default: 7 days ago; the
            newest 10,000).
    """

    method: str
    path: str
    body: None | PreviewBodyBodyType0 | Unset = UNSET
    since: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.preview_body_body_type_0 import PreviewBodyBodyType0

        method = self.method

        path = self.path

        body: dict[str, Any] | None | Unset
        if isinstance(self.body, Unset):
            body = UNSET
        elif isinstance(self.body, PreviewBodyBodyType0):
            body = self.body.to_dict()
        else:
            body = self.body

        since: None | str | Unset
        if isinstance(self.since, Unset):
            since = UNSET
        elif isinstance(self.since, datetime.datetime):
            since = self.since.isoformat()
        else:
            since = self.since

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "method": method,
                "path": path,
            }
        )
        if body is not UNSET:
            field_dict["body"] = body
        if since is not UNSET:
            field_dict["since"] = since

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.preview_body_body_type_0 import PreviewBodyBodyType0

        d = dict(src_dict)
        method = d.pop("method")

        path = d.pop("path")

        def _parse_body(data: object) -> None | PreviewBodyBodyType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                body_type_0 = PreviewBodyBodyType0.from_dict(data)

                return body_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PreviewBodyBodyType0 | Unset, data)

        body = _parse_body(d.pop("body", UNSET))

        def _parse_since(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                since_type_0 = datetime.datetime.fromisoformat(data)

                return since_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        since = _parse_since(d.pop("since", UNSET))

        preview_body = cls(
            method=method,
            path=path,
            body=body,
            since=since,
        )

        return preview_body
