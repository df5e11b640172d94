from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.delivery_page import DeliveryPage
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    status: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-Tenant-ID"] = x_tenant_id

    if not isinstance(x_on_behalf_of, Unset):
        headers["X-On-Behalf-Of"] = x_on_behalf_of

    params: dict[str, Any] = {}

    params["status"] = status

    params["after"] = after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/webhooks/{id}/deliveries".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeliveryPage | ErrorBody | None:
    if response.status_code == 200:
        response_200 = DeliveryPage.from_dict(response.json())

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
) -> Response[DeliveryPage | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[DeliveryPage | ErrorBody]:
    """A webhook's deliveries, oldest first (admin): status (`pending`, `delivered`, `dead`),
    attempts, the next attempt, the last HTTP status and error (at most 512 bytes of the
    receiver's answer are kept), and the signed payload.

    Args:
        id (str):
        status (str | Unset):
        after (str | Unset):
        limit (int | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeliveryPage | ErrorBody]
    """

    kwargs = _get_kwargs(
        id=id,
        status=status,
        after=after,
        limit=limit,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> DeliveryPage | ErrorBody | None:
    """A webhook's deliveries, oldest first (admin): status (`pending`, `delivered`, `dead`),
    attempts, the next attempt, the last HTTP status and error (at most 512 bytes of the
    receiver's answer are kept), and the signed payload.

    Args:
        id (str):
        status (str | Unset):
        after (str | Unset):
        limit (int | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeliveryPage | ErrorBody
    """

    return sync_detailed(
        id=id,
        client=client,
        status=status,
        after=after,
        limit=limit,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[DeliveryPage | ErrorBody]:
    """A webhook's deliveries, oldest first (admin): status (`pending`, `delivered`, `dead`),
    attempts, the next attempt, the last HTTP status and error (at most 512 bytes of the
    receiver's answer are kept), and the signed payload.

    Args:
        id (str):
        status (str | Unset):
        after (str | Unset):
        limit (int | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeliveryPage | ErrorBody]
    """

    kwargs = _get_kwargs(
        id=id,
        status=status,
        after=after,
        limit=limit,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> DeliveryPage | ErrorBody | None:
    """A webhook's deliveries, oldest first (admin): status (`pending`, `delivered`, `dead`),
    attempts, the next attempt, the last HTTP status and error (at most 512 bytes of the
    receiver's answer are kept), and the signed payload.

    Args:
        id (str):
        status (str | Unset):
        after (str | Unset):
        limit (int | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeliveryPage | ErrorBody
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            status=status,
            after=after,
            limit=limit,
            x_tenant_id=x_tenant_id,
            x_on_behalf_of=x_on_behalf_of,
        )
    ).parsed
