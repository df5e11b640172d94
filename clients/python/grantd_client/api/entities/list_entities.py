from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.entity_list import EntityList
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    type_: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-Tenant-ID"] = x_tenant_id

    if not isinstance(x_on_behalf_of, Unset):
        headers["X-On-Behalf-Of"] = x_on_behalf_of

    params: dict[str, Any] = {}

    params["type"] = type_

    params["per_page"] = per_page

    params["page"] = page

    params["next_page_token"] = next_page_token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/entities",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> EntityList | ErrorBody | None:
    if response.status_code == 200:
        response_200 = EntityList.from_dict(response.json())

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
) -> Response[EntityList | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    type_: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[EntityList | ErrorBody]:
    """List entities, optionally of one type.

    Args:
        type_ (str | Unset):
        per_page (int | Unset):
        page (int | Unset):
        next_page_token (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EntityList | ErrorBody]
    """

    kwargs = _get_kwargs(
        type_=type_,
        per_page=per_page,
        page=page,
        next_page_token=next_page_token,
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
    type_: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> EntityList | ErrorBody | None:
    """List entities, optionally of one type.

    Args:
        type_ (str | Unset):
        per_page (int | Unset):
        page (int | Unset):
        next_page_token (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EntityList | ErrorBody
    """

    return sync_detailed(
        client=client,
        type_=type_,
        per_page=per_page,
        page=page,
        next_page_token=next_page_token,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    type_: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[EntityList | ErrorBody]:
    """List entities, optionally of one type.

    Args:
        type_ (str | Unset):
        per_page (int | Unset):
        page (int | Unset):
        next_page_token (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EntityList | ErrorBody]
    """

    kwargs = _get_kwargs(
        type_=type_,
        per_page=per_page,
        page=page,
        next_page_token=next_page_token,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    type_: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> EntityList | ErrorBody | None:
    """List entities, optionally of one type.

    Args:
        type_ (str | Unset):
        per_page (int | Unset):
        page (int | Unset):
        next_page_token (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EntityList | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            type_=type_,
            per_page=per_page,
            page=page,
            next_page_token=next_page_token,
            x_tenant_id=x_tenant_id,
            x_on_behalf_of=x_on_behalf_of,
        )
    ).parsed
