from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.preview import Preview
from ...models.preview_body import PreviewBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: PreviewBody,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-Tenant-ID"] = x_tenant_id

    if not isinstance(x_on_behalf_of, Unset):
        headers["X-On-Behalf-Of"] = x_on_behalf_of

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/changes/preview",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | Preview | None:
    if response.status_code == 200:
        response_200 = Preview.from_dict(response.json())

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

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

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
) -> Response[ErrorBody | Preview]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: PreviewBody,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | Preview]:
    """Preview one configuration write (author and admin): the body names it exactly as it
    would be sent (`method`, `path`, `body`: a policy create, patch or delete, a schema put,
    an entities put or delete). The change is checked as the write would check it (an
    invalid change answers 400, a taken key or a policy that governs active grants 409, a
    missing policy or entity 404, as the write would) and compiled with the tenant's
    configuration; then every effectively active grant is re-decided under it as its last
    decision was made (`grants`: those that would be `denied`, `clamped` to the new
    governing maximum, or governed by another policy, `policy_changed`), and the newest
    10,000 recorded `authorize`, `grant.request` and `grant.extend` decisions since `since`
    (default 7 days ago) are replayed (`decisions`: those whose decision or deny reason
    would flip). Nothing is written, not even an audit event.

    Args:
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (PreviewBody): `POST /v1/changes/preview`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Preview]
    """

    kwargs = _get_kwargs(
        body=body,
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
    body: PreviewBody,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | Preview | None:
    """Preview one configuration write (author and admin): the body names it exactly as it
    would be sent (`method`, `path`, `body`: a policy create, patch or delete, a schema put,
    an entities put or delete). The change is checked as the write would check it (an
    invalid change answers 400, a taken key or a policy that governs active grants 409, a
    missing policy or entity 404, as the write would) and compiled with the tenant's
    configuration; then every effectively active grant is re-decided under it as its last
    decision was made (`grants`: those that would be `denied`, `clamped` to the new
    governing maximum, or governed by another policy, `policy_changed`), and the newest
    10,000 recorded `authorize`, `grant.request` and `grant.extend` decisions since `since`
    (default 7 days ago) are replayed (`decisions`: those whose decision or deny reason
    would flip). Nothing is written, not even an audit event.

    Args:
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (PreviewBody): `POST /v1/changes/preview`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Preview
    """

    return sync_detailed(
        client=client,
        body=body,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: PreviewBody,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | Preview]:
    """Preview one configuration write (author and admin): the body names it exactly as it
    would be sent (`method`, `path`, `body`: a policy create, patch or delete, a schema put,
    an entities put or delete). The change is checked as the write would check it (an
    invalid change answers 400, a taken key or a policy that governs active grants 409, a
    missing policy or entity 404, as the write would) and compiled with the tenant's
    configuration; then every effectively active grant is re-decided under it as its last
    decision was made (`grants`: those that would be `denied`, `clamped` to the new
    governing maximum, or governed by another policy, `policy_changed`), and the newest
    10,000 recorded `authorize`, `grant.request` and `grant.extend` decisions since `since`
    (default 7 days ago) are replayed (`decisions`: those whose decision or deny reason
    would flip). Nothing is written, not even an audit event.

    Args:
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (PreviewBody): `POST /v1/changes/preview`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Preview]
    """

    kwargs = _get_kwargs(
        body=body,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: PreviewBody,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | Preview | None:
    """Preview one configuration write (author and admin): the body names it exactly as it
    would be sent (`method`, `path`, `body`: a policy create, patch or delete, a schema put,
    an entities put or delete). The change is checked as the write would check it (an
    invalid change answers 400, a taken key or a policy that governs active grants 409, a
    missing policy or entity 404, as the write would) and compiled with the tenant's
    configuration; then every effectively active grant is re-decided under it as its last
    decision was made (`grants`: those that would be `denied`, `clamped` to the new
    governing maximum, or governed by another policy, `policy_changed`), and the newest
    10,000 recorded `authorize`, `grant.request` and `grant.extend` decisions since `since`
    (default 7 days ago) are replayed (`decisions`: those whose decision or deny reason
    would flip). Nothing is written, not even an audit event.

    Args:
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (PreviewBody): `POST /v1/changes/preview`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Preview
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_tenant_id=x_tenant_id,
            x_on_behalf_of=x_on_behalf_of,
        )
    ).parsed
