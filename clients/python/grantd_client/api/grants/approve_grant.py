from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.approval_body import ApprovalBody
from ...models.approval_decision import ApprovalDecision
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    body: ApprovalBody | None | Unset = UNSET,
    x_min_policy_set_version: None | str | Unset = UNSET,
    x_on_behalf_of: str,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_min_policy_set_version, Unset):
        headers["X-Min-Policy-Set-Version"] = x_min_policy_set_version

    headers["X-On-Behalf-Of"] = x_on_behalf_of

    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    headers["X-Tenant-ID"] = x_tenant_id

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/grants/{id}/approve".format(
            id=quote(str(id), safe=""),
        ),
    }

    if isinstance(body, ApprovalBody):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ApprovalDecision | ErrorBody | None:
    if response.status_code == 200:
        response_200 = ApprovalDecision.from_dict(response.json())

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
) -> Response[ApprovalDecision | ErrorBody]:
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
    body: ApprovalBody | None | Unset = UNSET,
    x_min_policy_set_version: None | str | Unset = UNSET,
    x_on_behalf_of: str,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
) -> Response[ApprovalDecision | ErrorBody]:
    """Approve a PENDING_APPROVAL grant as the approver named by `X-On-Behalf-Of` (a `User` in
    the entity store; requester or admin key). Decided by Cedar as `Action::"approve"` on the
    grant's resource with `ApprovalContext` (`requester`, `requested_by`, `scopes`, `reason`,
    `duration_seconds`, `approvals`, `required_approvals`); when the approver is the grant's
    user or its requester, as `Action::"self_approve"`, which counts only when a permit rule
    that names `self_approve` determines it. Where the governing policy's `approval` names
    `approvers`, only that entity and its members may approve. When the distinct approvals
    reach the policy's `count`, the grant's request is decided again on the current policies
    and the grant becomes GRANTED: `granted_at` = now, `expires_at` = now + its duration
    (clamped to the governing policy's maximum), `granted_by` = the approvers,
    comma-separated. Audited as `grant.approve` with the approver and the notices.

    Args:
        id (str):
        x_min_policy_set_version (None | str | Unset):
        x_on_behalf_of (str):
        if_match (None | str | Unset):
        x_tenant_id (str):
        body (ApprovalBody | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ApprovalDecision | ErrorBody]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        x_min_policy_set_version=x_min_policy_set_version,
        x_on_behalf_of=x_on_behalf_of,
        if_match=if_match,
        x_tenant_id=x_tenant_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    body: ApprovalBody | None | Unset = UNSET,
    x_min_policy_set_version: None | str | Unset = UNSET,
    x_on_behalf_of: str,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
) -> ApprovalDecision | ErrorBody | None:
    """Approve a PENDING_APPROVAL grant as the approver named by `X-On-Behalf-Of` (a `User` in
    the entity store; requester or admin key). Decided by Cedar as `Action::"approve"` on the
    grant's resource with `ApprovalContext` (`requester`, `requested_by`, `scopes`, `reason`,
    `duration_seconds`, `approvals`, `required_approvals`); when the approver is the grant's
    user or its requester, as `Action::"self_approve"`, which counts only when a permit rule
    that names `self_approve` determines it. Where the governing policy's `approval` names
    `approvers`, only that entity and its members may approve. When the distinct approvals
    reach the policy's `count`, the grant's request is decided again on the current policies
    and the grant becomes GRANTED: `granted_at` = now, `expires_at` = now + its duration
    (clamped to the governing policy's maximum), `granted_by` = the approvers,
    comma-separated. Audited as `grant.approve` with the approver and the notices.

    Args:
        id (str):
        x_min_policy_set_version (None | str | Unset):
        x_on_behalf_of (str):
        if_match (None | str | Unset):
        x_tenant_id (str):
        body (ApprovalBody | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ApprovalDecision | ErrorBody
    """

    return sync_detailed(
        id=id,
        client=client,
        body=body,
        x_min_policy_set_version=x_min_policy_set_version,
        x_on_behalf_of=x_on_behalf_of,
        if_match=if_match,
        x_tenant_id=x_tenant_id,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    body: ApprovalBody | None | Unset = UNSET,
    x_min_policy_set_version: None | str | Unset = UNSET,
    x_on_behalf_of: str,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
) -> Response[ApprovalDecision | ErrorBody]:
    """Approve a PENDING_APPROVAL grant as the approver named by `X-On-Behalf-Of` (a `User` in
    the entity store; requester or admin key). Decided by Cedar as `Action::"approve"` on the
    grant's resource with `ApprovalContext` (`requester`, `requested_by`, `scopes`, `reason`,
    `duration_seconds`, `approvals`, `required_approvals`); when the approver is the grant's
    user or its requester, as `Action::"self_approve"`, which counts only when a permit rule
    that names `self_approve` determines it. Where the governing policy's `approval` names
    `approvers`, only that entity and its members may approve. When the distinct approvals
    reach the policy's `count`, the grant's request is decided again on the current policies
    and the grant becomes GRANTED: `granted_at` = now, `expires_at` = now + its duration
    (clamped to the governing policy's maximum), `granted_by` = the approvers,
    comma-separated. Audited as `grant.approve` with the approver and the notices.

    Args:
        id (str):
        x_min_policy_set_version (None | str | Unset):
        x_on_behalf_of (str):
        if_match (None | str | Unset):
        x_tenant_id (str):
        body (ApprovalBody | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ApprovalDecision | ErrorBody]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        x_min_policy_set_version=x_min_policy_set_version,
        x_on_behalf_of=x_on_behalf_of,
        if_match=if_match,
        x_tenant_id=x_tenant_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    body: ApprovalBody | None | Unset = UNSET,
    x_min_policy_set_version: None | str | Unset = UNSET,
    x_on_behalf_of: str,
    if_match: None | str | Unset = UNSET,
    x_tenant_id: str,
) -> ApprovalDecision | ErrorBody | None:
    """Approve a PENDING_APPROVAL grant as the approver named by `X-On-Behalf-Of` (a `User` in
    the entity store; requester or admin key). Decided by Cedar as `Action::"approve"` on the
    grant's resource with `ApprovalContext` (`requester`, `requested_by`, `scopes`, `reason`,
    `duration_seconds`, `approvals`, `required_approvals`); when the approver is the grant's
    user or its requester, as `Action::"self_approve"`, which counts only when a permit rule
    that names `self_approve` determines it. Where the governing policy's `approval` names
    `approvers`, only that entity and its members may approve. When the distinct approvals
    reach the policy's `count`, the grant's request is decided again on the current policies
    and the grant becomes GRANTED: `granted_at` = now, `expires_at` = now + its duration
    (clamped to the governing policy's maximum), `granted_by` = the approvers,
    comma-separated. Audited as `grant.approve` with the approver and the notices.

    Args:
        id (str):
        x_min_policy_set_version (None | str | Unset):
        x_on_behalf_of (str):
        if_match (None | str | Unset):
        x_tenant_id (str):
        body (ApprovalBody | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ApprovalDecision | ErrorBody
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
            x_min_policy_set_version=x_min_policy_set_version,
            x_on_behalf_of=x_on_behalf_of,
            if_match=if_match,
            x_tenant_id=x_tenant_id,
        )
    ).parsed
