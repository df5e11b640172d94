from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.limit import Limit


T = TypeVar("T", bound="QuotaUpdate")


@_attrs_define
class QuotaUpdate:
    """`PUT /v1/quota`: the tenant's own limit, set by its admin.

    Attributes:
        tenant_self (Limit | None | Unset):
    """

    tenant_self: Limit | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.limit import Limit

        tenant_self: dict[str, Any] | None | Unset
        if isinstance(self.tenant_self, Unset):
            tenant_self = UNSET
        elif isinstance(self.tenant_self, Limit):
            tenant_self = self.tenant_self.to_dict()
        else:
            tenant_self = self.tenant_self

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if tenant_self is not UNSET:
            field_dict["tenant_self"] = tenant_self

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.limit import Limit

        d = dict(src_dict)

        def _parse_tenant_self(data: object) -> Limit | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                tenant_self_type_1 = Limit.from_dict(data)

                return tenant_self_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Limit | None | Unset, data)

        tenant_self = _parse_tenant_self(d.pop("tenant_self", UNSET))

        quota_update = cls(
            tenant_self=tenant_self,
        )

        return quota_update
