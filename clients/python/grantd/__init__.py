"""A thin layer over the generated client (`grantd_client`), which holds every endpoint
and model of grantd's OpenAPI document.

The generated functions take the tenant as a required `x_tenant_id` argument and return an
`ErrorBody` for an error answer; this layer fills in the tenant and `X-On-Behalf-Of` once,
raises `GrantdError` (with the envelope's `code`, `message`, `details` and `notices`) for
every error answer (a proxy's HTML 502 too), and walks `next_page_token` pages as an
iterator. It builds each request with the generated module's `_get_kwargs` and parses the
answer with its `_parse_response` (the generator's own seams), sending it itself so that
no answer is parsed as a success before its status is read. Every other header
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




class GrantdError(Exception):
    """An error answer of grantd, in its envelope: `{code, message, details?, notices?}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Optional[dict] = None,
        notices: Optional[list] = None,
        headers: Optional[httpx.Headers] = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.notices = notices or []
        self.headers = headers if headers is not None else httpx.Headers()
        # Seconds to wait before retrying (429 rate_limited, 503), when the answer says.
        retry = self.headers.get("retry-after")
        self.retry_after: Optional[int] = int(retry) if retry and retry.isdigit() else None

    @classmethod
    def from_response(
        cls, status: int, content: bytes, headers: Optional[httpx.Headers] = None
    ) -> "GrantdError":
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = content.decode("utf-8", "replace")[:500]
            return cls(status, f"http_{status}", text or f"HTTP {status}", headers=headers)
        details = body.get("details")
        notices = body.get("notices")
        return cls(
            status,
            str(body.get("code", f"http_{status}")),
            str(body.get("message", "")),
            details if isinstance(details, dict) else None,
            [str(n) for n in notices] if isinstance(notices, list) else None,
            headers,
        )


class Grantd:
    """One tenant of one grantd, with one API key. Use it as a context manager, or call
    `close()`, to release its connections."""

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

    def __enter__(self) -> "Grantd":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.client.get_httpx_client().close()

    def call_detailed(self, endpoint: ModuleType, *args: Any, **kwargs: Any) -> tuple[Any, httpx.Headers]:
        """Calls a generated endpoint (a module such as `grantd_client.api.grants.request_grant`)
        and returns its parsed answer with the response's headers (`ETag`,
        `X-Policy-Set-Version`, ...); raises `GrantdError` for every error answer, whatever
        its body."""
        params = inspect.signature(endpoint._get_kwargs).parameters
        if "x_tenant_id" in params:
            kwargs.setdefault("x_tenant_id", self.tenant_id)
        if self.on_behalf_of is not None and "x_on_behalf_of" in params:
            kwargs.setdefault("x_on_behalf_of", self.on_behalf_of)
        # An argument given as None is left out (the generated code would send it as is).
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        request = endpoint._get_kwargs(*args, **kwargs)
        # Header values go out as text (generated code would hand httpx an int as it is).
        request["headers"] = {
            k: v if isinstance(v, (str, bytes)) else str(v)
            for k, v in request.get("headers", {}).items()
            if v is not None and v is not UNSET
        }
        response = self.client.get_httpx_client().request(**request)
        if response.status_code >= 400:
            raise GrantdError.from_response(response.status_code, response.content, response.headers)
        return endpoint._parse_response(client=self.client, response=response), response.headers

    def call(self, endpoint: ModuleType, *args: Any, **kwargs: Any) -> Any:
        """As `call_detailed`, the parsed answer alone."""
        return self.call_detailed(endpoint, *args, **kwargs)[0]

    def pages(self, endpoint: ModuleType, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Every item of a paged list, page after page: lists paged by `next_page_token`
        (grants, policies, entities, audit events) and by `after`/`next_after` (approvals,
        webhook deliveries)."""
        params = inspect.signature(endpoint._get_kwargs).parameters
        arg, field = ("next_page_token", "next_page_token")
        if "next_page_token" not in params and "after" in params:
            arg, field = ("after", "next_after")
        token: Any = kwargs.pop(arg, None)
        seen: set = set()
        while True:
            page = self.call(endpoint, *args, **{arg: token}, **kwargs)
            yield from page.items
            token = getattr(page, field, None)
            if token is None or token is UNSET or token == "":
                return
            if str(token) in seen:
                raise GrantdError(0, "repeated_page_token", "the server returned a page token twice")
            seen.add(str(token))
