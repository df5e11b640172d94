from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.change_body_body_type_0 import ChangeBodyBodyType0


T = TypeVar("T", bound="ChangeBody")


@_attrs_define
class ChangeBody:
    """One configuration write, named as it would be sent. Its `body` is kept as sent (byte
    for byte), so it is parsed exactly as the write would parse it.

        Attributes:
            method (str): `POST`, `PATCH`, `PUT` or `DELETE`.
            path (str): `/v1/policies` (POST), `/v1/policies/{id or key}` (PATCH, DELETE), `/v1/schema`
                (PUT), `/v1/entities` (PUT) or `/v1/entities/{type}/{id}` (DELETE), percent-encoded
                as in a request line.
            body (ChangeBodyBodyType0 | None | Unset): The write's JSON body (none for DELETE).
    """

    method: str
    path: str
    body: ChangeBodyBodyType0 | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.change_body_body_type_0 import ChangeBodyBodyType0

        method = self.method

        path = self.path

        body: dict[str, Any] | None | Unset
        if isinstance(self.body, Unset):
            body = UNSET
        elif isinstance(self.body, ChangeBodyBodyType0):
            body = self.body.to_dict()
        else:
            body = self.body

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "method": method,
                "path": path,
            }
        )
        if body is not UNSET:
            field_dict["body"] = body

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.change_body_body_type_0 import ChangeBodyBodyType0

        d = dict(src_dict)
        method = d.pop("method")

        path = d.pop("path")

        def _parse_body(data: object) -> ChangeBodyBodyType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                body_type_0 = ChangeBodyBodyType0.from_dict(data)

                return body_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ChangeBodyBodyType0 | None | Unset, data)

        body = _parse_body(d.pop("body", UNSET))

        change_body = cls(
            method=method,
            path=path,
            body=body,
        )

        return change_body
