from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.limit import Limit


T = TypeVar("T", bound="QuotaView")


@_attrs_define
class QuotaView:
    """`GET /v1/quota`: the limits the caller's calls are held to on this instance.

    Attributes:
        key (Limit | None | Unset):
        tenant (Limit | None | Unset):
        tenant_own (Limit | None | Unset):
        tenant_self (Limit | None | Unset):
    """

    key: Limit | None | Unset = UNSET
    tenant: Limit | None | Unset = UNSET
    tenant_own: Limit | None | Unset = UNSET
    tenant_self: Limit | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.limit import Limit

        key: dict[str, Any] | None | Unset
        if isinstance(self.key, Unset):
            key = UNSET
        elif isinstance(self.key, Limit):
            key = self.key.to_dict()
        else:
            key = self.key

        tenant: dict[str, Any] | None | Unset
        if isinstance(self.tenant, Unset):
            tenant = UNSET
        elif isinstance(self.tenant, Limit):
            tenant = self.tenant.to_dict()
        else:
            tenant = self.tenant

        tenant_own: dict[str, Any] | None | Unset
        if isinstance(self.tenant_own, Unset):
            tenant_own = UNSET
        elif isinstance(self.tenant_own, Limit):
            tenant_own = self.tenant_own.to_dict()
        else:
            tenant_own = self.tenant_own

        tenant_self: dict[str, Any] | None | Unset
        if isinstance(self.tenant_self, Unset):
            tenant_self = UNSET
        elif isinstance(self.tenant_self, Limit):
            tenant_self = self.tenant_self.to_dict()
        else:
            tenant_self = self.tenant_self

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if key is not UNSET:
            field_dict["key"] = key
        if tenant is not UNSET:
            field_dict["tenant"] = tenant
        if tenant_own is not UNSET:
            field_dict["tenant_own"] = tenant_own
        if tenant_self is not UNSET:
            field_dict["tenant_self"] = tenant_self

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.limit import Limit

        d = dict(src_dict)

        def _parse_key(data: object) -> Limit | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                key_type_1 = Limit.from_dict(data)

                return key_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Limit | None | Unset, data)

        key = _parse_key(d.pop("key", UNSET))

        def _parse_tenant(data: object) -> Limit | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                tenant_type_1 = Limit.from_dict(data)

                return tenant_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Limit | None | Unset, data)

        tenant = _parse_tenant(d.pop("tenant", UNSET))

        def _parse_tenant_own(data: object) -> Limit | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                tenant_own_type_1 = Limit.from_dict(data)

                return tenant_own_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Limit | None | Unset, data)

        tenant_own = _parse_tenant_own(d.pop("tenant_own", UNSET))

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

        quota_view = cls(
            key=key,
            tenant=tenant,
            tenant_own=tenant_own,
            tenant_self=tenant_self,
        )

        quota_view.additional_properties = d
        return quota_view

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
