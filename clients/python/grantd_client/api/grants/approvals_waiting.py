from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.waiting_page import WaitingPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = UNSET,
    after: str | Unset = UNSET,
    x_on_behalf_of: str,
    x_tenant_id: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-On-Behalf-Of"] = x_on_behalf_of

    headers["X-Tenant-ID"] = x_tenant_id

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["after"] = after

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/approvals",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | WaitingPage | None:
    if response.status_code == 200:
        response_200 = WaitingPage.from_dict(response.json())

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
) -> Response[ErrorBody | WaitingPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = UNSET,
    after: str | Unset = UNSET,
    x_on_behalf_of: str,
    x_tenant_id: str,
) -> Response[ErrorBody | WaitingPage]:
    """Approvals waiting for me: the tenant's PENDING_APPROVAL grants, oldest first, that the
    approver named by `X-On-Behalf-Of` has not approved yet and may approve now (among the
    policy's approvers and permitted by Cedar, as `approve` would decide). One call looks at
    up to 1,000 pending grants; `next_after` continues the walk.

    Args:
        limit (int | Unset):
        after (str | Unset):
        x_on_behalf_of (str):
        x_tenant_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WaitingPage]
    """

    kwargs = _get_kwargs(
        limit=limit,
        after=after,
        x_on_behalf_of=x_on_behalf_of,
        x_tenant_id=x_tenant_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = UNSET,
    after: str | Unset = UNSET,
    x_on_behalf_of: str,
    x_tenant_id: str,
) -> ErrorBody | WaitingPage | None:
    """Approvals waiting for me: the tenant's PENDING_APPROVAL grants, oldest first, that the
    approver named by `X-On-Behalf-Of` has not approved yet and may approve now (among the
    policy's approvers and permitted by Cedar, as `approve` would decide). One call looks at
    up to 1,000 pending grants; `next_after` continues the walk.

    Args:
        limit (int | Unset):
        after (str | Unset):
        x_on_behalf_of (str):
        x_tenant_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WaitingPage
    """

    return sync_detailed(
        client=client,
        limit=limit,
        after=after,
        x_on_behalf_of=x_on_behalf_of,
        x_tenant_id=x_tenant_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = UNSET,
    after: str | Unset = UNSET,
    x_on_behalf_of: str,
    x_tenant_id: str,
) -> Response[ErrorBody | WaitingPage]:
    """Approvals waiting for me: the tenant's PENDING_APPROVAL grants, oldest first, that the
    approver named by `X-On-Behalf-Of` has not approved yet and may approve now (among the
    policy's approvers and permitted by Cedar, as `approve` would decide). One call looks at
    up to 1,000 pending grants; `next_after` continues the walk.

    Args:
        limit (int | Unset):
        after (str | Unset):
        x_on_behalf_of (str):
        x_tenant_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WaitingPage]
    """

    kwargs = _get_kwargs(
        limit=limit,
        after=after,
        x_on_behalf_of=x_on_behalf_of,
        x_tenant_id=x_tenant_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = UNSET,
    after: str | Unset = UNSET,
    x_on_behalf_of: str,
    x_tenant_id: str,
) -> ErrorBody | WaitingPage | None:
    """Approvals waiting for me: the tenant's PENDING_APPROVAL grants, oldest first, that the
    approver named by `X-On-Behalf-Of` has not approved yet and may approve now (among the
    policy's approvers and permitted by Cedar, as `approve` would decide). One call looks at
    up to 1,000 pending grants; `next_after` continues the walk.

    Args:
        limit (int | Unset):
        after (str | Unset):
        x_on_behalf_of (str):
        x_tenant_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WaitingPage
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            after=after,
            x_on_behalf_of=x_on_behalf_of,
            x_tenant_id=x_tenant_id,
        )
    ).parsed
