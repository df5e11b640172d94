"""A thin layer over the generated client (`grantd_client`), which holds every endpoint
and model of grantd's OpenAPI document.

The generated functions take the tenant as a required `x_tenant_id` argument and return an
`ErrorBody` for an error answer; this layer fills in the tenant and `X-On-Behalf-Of` once,
raises `GrantdError` (with the envelope's `code`, `message`, `details` and `notices`) for
every error answer, and walks `next_page_token` pages as an iterator. Every other header
grantd reads is an argument of the generated function: `idempotency_key`, `if_match`,
`x_on_behalf_of`, `x_min_policy_set_version`.

    from grantd import Grantd, GrantdError
    from grantd_client.api.grants import request_grant
    from grantd_client.models import RequestBody

    g = Grantd("http://127.0.0.1:8080", api_key, tenant_id, on_behalf_of="portal@example.com")
    grant = g.call(request_grant, body=RequestBody.from_dict({...}), idempotency_key="t-42")
"""

from __future__ import annotations

import inspect
import json
from types import ModuleType
from typing import Any, Iterator, Optional
from uuid import UUID

import httpx

from grantd_client import AuthenticatedClient
from grantd_client.types import UNSET

__all__ = ["Grantd", "GrantdError"]

# The arguments of generated functions that are request headers.
HEADER_ARGUMENTS = {
    "x_tenant_id",
    "x_on_behalf_of",
    "x_min_policy_set_version",
    "idempotency_key",
    "if_match",
}


class GrantdError(Exception):
    """An error answer of grantd, in its envelope: `{code, message, details?, notices?}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Optional[dict] = None,
        notices: Optional[list] = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.notices = notices or []

    @classmethod
    def from_response(cls, status: int, content: bytes) -> "GrantdError":
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = content.decode("utf-8", "replace")[:500]
            return cls(status, f"http_{status}", text or f"HTTP {status}")
        return cls(
            status,
            str(body.get("code", f"http_{status}")),
            str(body.get("message", "")),
            body.get("details"),
            body.get("notices"),
        )


class Grantd:
    """One tenant of one grantd, with one API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        tenant_id: str | UUID,
        on_behalf_of: Optional[str] = None,
        timeout: float = 10.0,
    ) -> None:
        self.client = AuthenticatedClient(
            base_url=base_url,
            token=api_key,
            prefix="",
            auth_header_name="X-API-Key",
            timeout=httpx.Timeout(timeout),
        )
        self.tenant_id = tenant_id if isinstance(tenant_id, UUID) else UUID(str(tenant_id))
        self.on_behalf_of = on_behalf_of

    def call(self, endpoint: ModuleType, *args: Any, **kwargs: Any) -> Any:
        """Calls a generated endpoint (a module such as `grantd_client.api.grants.request_grant`)
        and returns its parsed answer; raises `GrantdError` for an error answer."""
        fn = endpoint.sync_detailed
        params = inspect.signature(fn).parameters
        if "x_tenant_id" in params:
            kwargs.setdefault("x_tenant_id", self.tenant_id)
        if self.on_behalf_of is not None and "x_on_behalf_of" in params:
            kwargs.setdefault("x_on_behalf_of", self.on_behalf_of)
        # Header values go out as text (the generated code would hand httpx a UUID or an
        # int for `X-Tenant-ID` and `X-Min-Policy-Set-Version`, which it refuses).
        for name in HEADER_ARGUMENTS & kwargs.keys():
            if kwargs[name] is not UNSET and kwargs[name] is not None:
                kwargs[name] = str(kwargs[name])
        response = fn(*args, client=self.client, **kwargs)
        if int(response.status_code) >= 400:
            raise GrantdError.from_response(int(response.status_code), response.content)
        return response.parsed

    def pages(self, endpoint: ModuleType, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Every item of a paged list (`items` and `next_page_token`), page after page."""
        token: Any = kwargs.pop("next_page_token", UNSET)
        while True:
            page = self.call(endpoint, *args, next_page_token=token, **kwargs)
            yield from page.items
            token = page.next_page_token
            if token is None or token is UNSET or token == "":
                return
