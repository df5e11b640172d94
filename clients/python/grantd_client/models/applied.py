from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Applied")


@_attrs_define
class Applied:
    """What a re-evaluation did, so far.

    Attributes:
        clamped (int): `expires_at` cut to the governing policy's maximum.
        cleared (int): `review_required` cleared: allowed again.
        flagged (int): Given `review_required: true`.
        moved (int): Moved to the policy that now governs them (`clamp`, `revoke`): their own no longer
            permits them.
        revoked (int):
    """

    clamped: int
    cleared: int
    flagged: int
    moved: int
    revoked: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        clamped = self.clamped

        cleared = self.cleared

        flagged = self.flagged

        moved = self.moved

        revoked = self.revoked

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "clamped": clamped,
                "cleared": cleared,
                "flagged": flagged,
                "moved": moved,
                "revoked": revoked,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        clamped = d.pop("clamped")

        cleared = d.pop("cleared")

        flagged = d.pop("flagged")

        moved = d.pop("moved")

        revoked = d.pop("revoked")

        applied = cls(
            clamped=clamped,
            cleared=cleared,
            flagged=flagged,
            moved=moved,
            revoked=revoked,
        )

        applied.additional_properties = d
        return applied

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
