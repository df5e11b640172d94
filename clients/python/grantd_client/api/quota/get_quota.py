from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.quota_view import QuotaView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-Tenant-ID"] = x_tenant_id

    if not isinstance(x_on_behalf_of, Unset):
        headers["X-On-Behalf-Of"] = x_on_behalf_of

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/quota",
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | QuotaView | None:
    if response.status_code == 200:
        response_200 = QuotaView.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 405:
        response_405 = ErrorBody.from_dict(response.json())

        return response_405

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | QuotaView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | QuotaView]:
    """The limits the caller's calls are held to on this instance (any role): the tenant's
    (the operator's limit for it, set with `grantd tenant quota`, else the instance default,
    lowered by the tenant admin's own, `PUT /v1/quota`) and
    every key's, each for two budgets, decisions (`authorize`, a batch counting each
    request in it; grant writes; access checks) and every other call. `null`: unlimited.
    Over a limit a call is refused with 429 `rate_limited`, `Retry-After` (seconds) and
    `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`; it decides and audits
    nothing. Quotas hold per instance.

    Args:
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | QuotaView]
    """

    kwargs = _get_kwargs(
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | QuotaView | None:
    """The limits the caller's calls are held to on this instance (any role): the tenant's
    (the operator's limit for it, set with `grantd tenant quota`, else the instance default,
    lowered by the tenant admin's own, `PUT /v1/quota`) and
    every key's, each for two budgets, decisions (`authorize`, a batch counting each
    request in it; grant writes; access checks) and every other call. `null`: unlimited.
    Over a limit a call is refused with 429 `rate_limited`, `Retry-After` (seconds) and
    `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`; it decides and audits
    nothing. Quotas hold per instance.

    Args:
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | QuotaView
    """

    return sync_detailed(
        client=client,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | QuotaView]:
    """The limits the caller's calls are held to on this instance (any role): the tenant's
    (the operator's limit for it, set with `grantd tenant quota`, else the instance default,
    lowered by the tenant admin's own, `PUT /v1/quota`) and
    every key's, each for two budgets, decisions (`authorize`, a batch counting each
    request in it; grant writes; access checks) and every other call. `null`: unlimited.
    Over a limit a call is refused with 429 `rate_limited`, `Retry-After` (seconds) and
    `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`; it decides and audits
    nothing. Quotas hold per instance.

    Args:
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | QuotaView]
    """

    kwargs = _get_kwargs(
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | QuotaView | None:
    """The limits the caller's calls are held to on this instance (any role): the tenant's
    (the operator's limit for it, set with `grantd tenant quota`, else the instance default,
    lowered by the tenant admin's own, `PUT /v1/quota`) and
    every key's, each for two budgets, decisions (`authorize`, a batch counting each
    request in it; grant writes; access checks) and every other call. `null`: unlimited.
    Over a limit a call is refused with 429 `rate_limited`, `Retry-After` (seconds) and
    `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`; it decides and audits
    nothing. Quotas hold per instance.

    Args:
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | QuotaView
    """

    return (
        await asyncio_detailed(
            client=client,
            x_tenant_id=x_tenant_id,
            x_on_behalf_of=x_on_behalf_of,
        )
    ).parsed
