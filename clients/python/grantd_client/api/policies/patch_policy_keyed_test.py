from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.policy_patch import PolicyPatch
from ...models.policy_written import PolicyWritten
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: PolicyPatch,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    headers["X-Tenant-ID"] = x_tenant_id

    if not isinstance(x_on_behalf_of, Unset):
        headers["X-On-Behalf-Of"] = x_on_behalf_of

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/v1/policies/test",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | PolicyWritten | None:
    if response.status_code == 200:
        response_200 = PolicyWritten.from_dict(response.json())

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

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())

        return response_415

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
) -> Response[ErrorBody | PolicyWritten]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: PolicyPatch,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | PolicyWritten]:
    """Change the policy keyed `test` (as `PATCH /v1/policies/{id}`).

    Args:
        if_match (None | str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (PolicyPatch): `PATCH /v1/policies/{id}`: only the fields given change; `null` clears
            an optional
            field; `rules`, when given, replaces the whole list.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PolicyWritten]
    """

    kwargs = _get_kwargs(
        body=body,
        if_match=if_match,
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
    body: PolicyPatch,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | PolicyWritten | None:
    """Change the policy keyed `test` (as `PATCH /v1/policies/{id}`).

    Args:
        if_match (None | str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (PolicyPatch): `PATCH /v1/policies/{id}`: only the fields given change; `null` clears
            an optional
            field; `rules`, when given, replaces the whole list.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PolicyWritten
    """

    return sync_detailed(
        client=client,
        body=body,
        if_match=if_match,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: PolicyPatch,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | PolicyWritten]:
    """Change the policy keyed `test` (as `PATCH /v1/policies/{id}`).

    Args:
        if_match (None | str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (PolicyPatch): `PATCH /v1/policies/{id}`: only the fields given change; `null` clears
            an optional
            field; `rules`, when given, replaces the whole list.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PolicyWritten]
    """

    kwargs = _get_kwargs(
        body=body,
        if_match=if_match,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: PolicyPatch,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | PolicyWritten | None:
    """Change the policy keyed `test` (as `PATCH /v1/policies/{id}`).

    Args:
        if_match (None | str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (PolicyPatch): `PATCH /v1/policies/{id}`: only the fields given change; `null` clears
            an optional
            field; `rules`, when given, replaces the whole list.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PolicyWritten
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            if_match=if_match,
            x_tenant_id=x_tenant_id,
            x_on_behalf_of=x_on_behalf_of,
        )
    ).parsed
