from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.event_list import EventList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    kind: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    subject: str | Unset = UNSET,
    decision: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-Tenant-ID"] = x_tenant_id

    if not isinstance(x_on_behalf_of, Unset):
        headers["X-On-Behalf-Of"] = x_on_behalf_of

    params: dict[str, Any] = {}

    params["kind"] = kind

    params["since"] = since

    params["until"] = until

    params["subject"] = subject

    params["decision"] = decision

    params["per_page"] = per_page

    params["next_page_token"] = next_page_token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/audit-events",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | EventList | None:
    if response.status_code == 200:
        response_200 = EventList.from_dict(response.json())

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
) -> Response[ErrorBody | EventList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    kind: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    subject: str | Unset = UNSET,
    decision: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | EventList]:
    """Read the tenant's audit events, oldest first, filtered by kind, time, subject and
    decision. Events are never changed or deleted through the API.

    Args:
        kind (str | Unset):
        since (str | Unset):
        until (str | Unset):
        subject (str | Unset):
        decision (str | Unset):
        per_page (int | Unset):
        next_page_token (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | EventList]
    """

    kwargs = _get_kwargs(
        kind=kind,
        since=since,
        until=until,
        subject=subject,
        decision=decision,
        per_page=per_page,
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
    kind: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    subject: str | Unset = UNSET,
    decision: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | EventList | None:
    """Read the tenant's audit events, oldest first, filtered by kind, time, subject and
    decision. Events are never changed or deleted through the API.

    Args:
        kind (str | Unset):
        since (str | Unset):
        until (str | Unset):
        subject (str | Unset):
        decision (str | Unset):
        per_page (int | Unset):
        next_page_token (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | EventList
    """

    return sync_detailed(
        client=client,
        kind=kind,
        since=since,
        until=until,
        subject=subject,
        decision=decision,
        per_page=per_page,
        next_page_token=next_page_token,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    kind: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    subject: str | Unset = UNSET,
    decision: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | EventList]:
    """Read the tenant's audit events, oldest first, filtered by kind, time, subject and
    decision. Events are never changed or deleted through the API.

    Args:
        kind (str | Unset):
        since (str | Unset):
        until (str | Unset):
        subject (str | Unset):
        decision (str | Unset):
        per_page (int | Unset):
        next_page_token (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | EventList]
    """

    kwargs = _get_kwargs(
        kind=kind,
        since=since,
        until=until,
        subject=subject,
        decision=decision,
        per_page=per_page,
        next_page_token=next_page_token,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    kind: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    subject: str | Unset = UNSET,
    decision: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | EventList | None:
    """Read the tenant's audit events, oldest first, filtered by kind, time, subject and
    decision. Events are never changed or deleted through the API.

    Args:
        kind (str | Unset):
        since (str | Unset):
        until (str | Unset):
        subject (str | Unset):
        decision (str | Unset):
        per_page (int | Unset):
        next_page_token (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | EventList
    """

    return (
        await asyncio_detailed(
            client=client,
            kind=kind,
            since=since,
            until=until,
            subject=subject,
            decision=decision,
            per_page=per_page,
            next_page_token=next_page_token,
            x_tenant_id=x_tenant_id,
            x_on_behalf_of=x_on_behalf_of,
        )
    ).parsed
