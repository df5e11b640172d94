from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.health import Health
from ...types import Response


def _get_kwargs() -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/readyz",
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | Health | None:
    if response.status_code == 200:
        response_200 = Health.from_dict(response.json())

        return response_200

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
) -> Response[ErrorBody | Health]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | Health]:
    """Ready to serve: the database answers and takes writes. Not ready (503 `unavailable`,
    with `Retry-After` and the reason in `message`) once a shutdown signal came (the
    instance still serves for `--shutdown-drain-ms`), while the database cannot be reached,
    a small synced write to it or a 64 KiB file beside it fails (a full disk), the decision
    log cannot be written or moved into the database, or any write answered 503 in the
    last 5 seconds. The write probe runs at most once a second; calls in between share its
    outcome (the read runs on every call).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Health]
    """

    kwargs = _get_kwargs()

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | Health | None:
    """Ready to serve: the database answers and takes writes. Not ready (503 `unavailable`,
    with `Retry-After` and the reason in `message`) once a shutdown signal came (the
    instance still serves for `--shutdown-drain-ms`), while the database cannot be reached,
    a small synced write to it or a 64 KiB file beside it fails (a full disk), the decision
    log cannot be written or moved into the database, or any write answered 503 in the
    last 5 seconds. The write probe runs at most once a second; calls in between share its
    outcome (the read runs on every call).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Health
    """

    return sync_detailed(
        client=client,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | Health]:
    """Ready to serve: the database answers and takes writes. Not ready (503 `unavailable`,
    with `Retry-After` and the reason in `message`) once a shutdown signal came (the
    instance still serves for `--shutdown-drain-ms`), while the database cannot be reached,
    a small synced write to it or a 64 KiB file beside it fails (a full disk), the decision
    log cannot be written or moved into the database, or any write answered 503 in the
    last 5 seconds. The write probe runs at most once a second; calls in between share its
    outcome (the read runs on every call).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Health]
    """

    kwargs = _get_kwargs()

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | Health | None:
    """Ready to serve: the database answers and takes writes. Not ready (503 `unavailable`,
    with `Retry-After` and the reason in `message`) once a shutdown signal came (the
    instance still serves for `--shutdown-drain-ms`), while the database cannot be reached,
    a small synced write to it or a 64 KiB file beside it fails (a full disk), the decision
    log cannot be written or moved into the database, or any write answered 503 in the
    last 5 seconds. The write probe runs at most once a second; calls in between share its
    outcome (the read runs on every call).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Health
    """

    return (
        await asyncio_detailed(
            client=client,
        )
    ).parsed
