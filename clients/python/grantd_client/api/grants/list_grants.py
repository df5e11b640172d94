from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.grant_page import GrantPage
from ...models.raw_filter import RawFilter
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: list[RawFilter] | None | Unset = UNSET,
    sort_order: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    search_key: str | Unset = UNSET,
    policy_id: str | Unset = UNSET,
    app_id: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["X-Tenant-ID"] = x_tenant_id

    if not isinstance(x_on_behalf_of, Unset):
        headers["X-On-Behalf-Of"] = x_on_behalf_of

    params: dict[str, Any] = {}

    params["sort_order"] = sort_order

    params["per_page"] = per_page

    params["page"] = page

    params["next_page_token"] = next_page_token

    params["ids"] = ids

    params["search_key"] = search_key

    params["policy_id"] = policy_id

    params["app_id"] = app_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/grants/list",
        "params": params,
    }

    if isinstance(body, list):
        _kwargs["json"] = []
        for body_type_0_item_data in body:
            body_type_0_item = body_type_0_item_data.to_dict()
            _kwargs["json"].append(body_type_0_item)

    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | GrantPage | None:
    if response.status_code == 200:
        response_200 = GrantPage.from_dict(response.json())

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
) -> Response[ErrorBody | GrantPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: list[RawFilter] | None | Unset = UNSET,
    sort_order: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    search_key: str | Unset = UNSET,
    policy_id: str | Unset = UNSET,
    app_id: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | GrantPage]:
    """Find grants. The body is an array of filter objects `{"attribute", "operator",
    "values": [{"value": ..}]}`, ANDed (`[]` or no body: all grants).

     Attributes: `status` (effective; buckets `ACTIVE` = GRANTED+EXTENDED, `INACTIVE` =
    REVOKED+EXPIRED, or a raw status: `GRANTED`, `EXTENDED`, `REVOKED`, `EXPIRED`,
    `PENDING_APPROVAL`, `APPROVAL_EXPIRED` (a pending grant past its approval deadline),
    `DENIED`), `approver` (a user who approved the grant: `EQUALS`, `IN`/`IS_ANY_OF` and
    their negations), `user` (principal id), `principal`
    (`T::"id"`), `app`, `entitlement` / `entitlement_value` (resource id), `resource`
    (`T::"id"`), `policy` (id or key), `scopes`, `granted_by`, `requested_by`, and the
    timestamps `granted_at`, `expires_at`, `last_used_at` (alias `last_login_at`: last access
    check), `revoked_at`, `created_at`, `updated_at`; and `review_required` (a boolean: set
    by a re-evaluation after a configuration change, `EQUALS`/`NOT_EQUALS` only).

    Operators: `EQUALS`, `NOT_EQUALS`, `IS_EXACTLY`, `IN`/`IS_ANY_OF`, `NOT_IN`/`IS_NOT_ANY_OF`
    on every other attribute; `IS_BETWEEN` (two values, inclusive), `IS_ON_OR_BEFORE`,
    `IS_ON_OR_AFTER`, `GREATER_THAN`, `LESS_THAN`, `GREATER_THAN_EQUALS`, `LESS_THAN_EQUALS`
    and `IS_WITHIN` (one ISO 8601 duration, e.g. `P7D`: within that span of now, past or
    future) on timestamps (RFC 3339 values); `CONTAINS`, `NOT_CONTAINS`, `TEXT_CONTAINS`,
    `TEXT_DOES_NOT_CONTAINS`, `STARTS_WITH`, `ENDS_WITH` on text attributes (ASCII case
    ignored); on `scopes`, `CONTAINS` = has every value, `NOT_CONTAINS` = lacks one,
    `IN` = has any, `NOT_IN` = has none, `EQUALS`/`IS_EXACTLY` = exactly this set;
    `IS_NULL`/`IS_NOT_NULL` (no values) on `app`, `granted_by`, `requested_by`,
    `last_used_at`, `revoked_at`, and on `scopes` (no scopes). Negative operators are exact
    complements: a grant without a value matches `NOT_EQUALS`. Anything else → 400 naming
    the filter, attribute and operator (`details.filter` is its index).

    Pagination: `page` (OFFSET) or `next_page_token` (keyset; wins over `page`). Walking
    the tokens returns each matching grant exactly once while grants are inserted or
    changed, as long as a change does not move a grant's own sort value: extending a grant or
    expiring it by `PUT` moves it in `EXPIRES_AT_*`, an admin's `PUT granted_at` moves it in
    `GRANTED_AT_*`, any write moves it in `UPDATED_AT_*`; `CREATED_AT_*` never moves, so it is
    the order for a walk that must be exact under every kind of write. Membership is judged
    per page (a grant revoked mid-walk leaves an `ACTIVE` list). `total` is counted on the
    page that starts a walk and carried by its tokens.

    Args:
        sort_order (str | Unset):
        per_page (int | Unset):
        page (int | Unset):
        next_page_token (str | Unset):
        ids (str | Unset):
        search_key (str | Unset):
        policy_id (str | Unset):
        app_id (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (list[RawFilter] | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | GrantPage]
    """

    kwargs = _get_kwargs(
        body=body,
        sort_order=sort_order,
        per_page=per_page,
        page=page,
        next_page_token=next_page_token,
        ids=ids,
        search_key=search_key,
        policy_id=policy_id,
        app_id=app_id,
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
    body: list[RawFilter] | None | Unset = UNSET,
    sort_order: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    search_key: str | Unset = UNSET,
    policy_id: str | Unset = UNSET,
    app_id: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | GrantPage | None:
    """Find grants. The body is an array of filter objects `{"attribute", "operator",
    "values": [{"value": ..}]}`, ANDed (`[]` or no body: all grants).

     Attributes: `status` (effective; buckets `ACTIVE` = GRANTED+EXTENDED, `INACTIVE` =
    REVOKED+EXPIRED, or a raw status: `GRANTED`, `EXTENDED`, `REVOKED`, `EXPIRED`,
    `PENDING_APPROVAL`, `APPROVAL_EXPIRED` (a pending grant past its approval deadline),
    `DENIED`), `approver` (a user who approved the grant: `EQUALS`, `IN`/`IS_ANY_OF` and
    their negations), `user` (principal id), `principal`
    (`T::"id"`), `app`, `entitlement` / `entitlement_value` (resource id), `resource`
    (`T::"id"`), `policy` (id or key), `scopes`, `granted_by`, `requested_by`, and the
    timestamps `granted_at`, `expires_at`, `last_used_at` (alias `last_login_at`: last access
    check), `revoked_at`, `created_at`, `updated_at`; and `review_required` (a boolean: set
    by a re-evaluation after a configuration change, `EQUALS`/`NOT_EQUALS` only).

    Operators: `EQUALS`, `NOT_EQUALS`, `IS_EXACTLY`, `IN`/`IS_ANY_OF`, `NOT_IN`/`IS_NOT_ANY_OF`
    on every other attribute; `IS_BETWEEN` (two values, inclusive), `IS_ON_OR_BEFORE`,
    `IS_ON_OR_AFTER`, `GREATER_THAN`, `LESS_THAN`, `GREATER_THAN_EQUALS`, `LESS_THAN_EQUALS`
    and `IS_WITHIN` (one ISO 8601 duration, e.g. `P7D`: within that span of now, past or
    future) on timestamps (RFC 3339 values); `CONTAINS`, `NOT_CONTAINS`, `TEXT_CONTAINS`,
    `TEXT_DOES_NOT_CONTAINS`, `STARTS_WITH`, `ENDS_WITH` on text attributes (ASCII case
    ignored); on `scopes`, `CONTAINS` = has every value, `NOT_CONTAINS` = lacks one,
    `IN` = has any, `NOT_IN` = has none, `EQUALS`/`IS_EXACTLY` = exactly this set;
    `IS_NULL`/`IS_NOT_NULL` (no values) on `app`, `granted_by`, `requested_by`,
    `last_used_at`, `revoked_at`, and on `scopes` (no scopes). Negative operators are exact
    complements: a grant without a value matches `NOT_EQUALS`. Anything else → 400 naming
    the filter, attribute and operator (`details.filter` is its index).

    Pagination: `page` (OFFSET) or `next_page_token` (keyset; wins over `page`). Walking
    the tokens returns each matching grant exactly once while grants are inserted or
    changed, as long as a change does not move a grant's own sort value: extending a grant or
    expiring it by `PUT` moves it in `EXPIRES_AT_*`, an admin's `PUT granted_at` moves it in
    `GRANTED_AT_*`, any write moves it in `UPDATED_AT_*`; `CREATED_AT_*` never moves, so it is
    the order for a walk that must be exact under every kind of write. Membership is judged
    per page (a grant revoked mid-walk leaves an `ACTIVE` list). `total` is counted on the
    page that starts a walk and carried by its tokens.

    Args:
        sort_order (str | Unset):
        per_page (int | Unset):
        page (int | Unset):
        next_page_token (str | Unset):
        ids (str | Unset):
        search_key (str | Unset):
        policy_id (str | Unset):
        app_id (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (list[RawFilter] | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | GrantPage
    """

    return sync_detailed(
        client=client,
        body=body,
        sort_order=sort_order,
        per_page=per_page,
        page=page,
        next_page_token=next_page_token,
        ids=ids,
        search_key=search_key,
        policy_id=policy_id,
        app_id=app_id,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: list[RawFilter] | None | Unset = UNSET,
    sort_order: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    search_key: str | Unset = UNSET,
    policy_id: str | Unset = UNSET,
    app_id: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> Response[ErrorBody | GrantPage]:
    """Find grants. The body is an array of filter objects `{"attribute", "operator",
    "values": [{"value": ..}]}`, ANDed (`[]` or no body: all grants).

     Attributes: `status` (effective; buckets `ACTIVE` = GRANTED+EXTENDED, `INACTIVE` =
    REVOKED+EXPIRED, or a raw status: `GRANTED`, `EXTENDED`, `REVOKED`, `EXPIRED`,
    `PENDING_APPROVAL`, `APPROVAL_EXPIRED` (a pending grant past its approval deadline),
    `DENIED`), `approver` (a user who approved the grant: `EQUALS`, `IN`/`IS_ANY_OF` and
    their negations), `user` (principal id), `principal`
    (`T::"id"`), `app`, `entitlement` / `entitlement_value` (resource id), `resource`
    (`T::"id"`), `policy` (id or key), `scopes`, `granted_by`, `requested_by`, and the
    timestamps `granted_at`, `expires_at`, `last_used_at` (alias `last_login_at`: last access
    check), `revoked_at`, `created_at`, `updated_at`; and `review_required` (a boolean: set
    by a re-evaluation after a configuration change, `EQUALS`/`NOT_EQUALS` only).

    Operators: `EQUALS`, `NOT_EQUALS`, `IS_EXACTLY`, `IN`/`IS_ANY_OF`, `NOT_IN`/`IS_NOT_ANY_OF`
    on every other attribute; `IS_BETWEEN` (two values, inclusive), `IS_ON_OR_BEFORE`,
    `IS_ON_OR_AFTER`, `GREATER_THAN`, `LESS_THAN`, `GREATER_THAN_EQUALS`, `LESS_THAN_EQUALS`
    and `IS_WITHIN` (one ISO 8601 duration, e.g. `P7D`: within that span of now, past or
    future) on timestamps (RFC 3339 values); `CONTAINS`, `NOT_CONTAINS`, `TEXT_CONTAINS`,
    `TEXT_DOES_NOT_CONTAINS`, `STARTS_WITH`, `ENDS_WITH` on text attributes (ASCII case
    ignored); on `scopes`, `CONTAINS` = has every value, `NOT_CONTAINS` = lacks one,
    `IN` = has any, `NOT_IN` = has none, `EQUALS`/`IS_EXACTLY` = exactly this set;
    `IS_NULL`/`IS_NOT_NULL` (no values) on `app`, `granted_by`, `requested_by`,
    `last_used_at`, `revoked_at`, and on `scopes` (no scopes). Negative operators are exact
    complements: a grant without a value matches `NOT_EQUALS`. Anything else → 400 naming
    the filter, attribute and operator (`details.filter` is its index).

    Pagination: `page` (OFFSET) or `next_page_token` (keyset; wins over `page`). Walking
    the tokens returns each matching grant exactly once while grants are inserted or
    changed, as long as a change does not move a grant's own sort value: extending a grant or
    expiring it by `PUT` moves it in `EXPIRES_AT_*`, an admin's `PUT granted_at` moves it in
    `GRANTED_AT_*`, any write moves it in `UPDATED_AT_*`; `CREATED_AT_*` never moves, so it is
    the order for a walk that must be exact under every kind of write. Membership is judged
    per page (a grant revoked mid-walk leaves an `ACTIVE` list). `total` is counted on the
    page that starts a walk and carried by its tokens.

    Args:
        sort_order (str | Unset):
        per_page (int | Unset):
        page (int | Unset):
        next_page_token (str | Unset):
        ids (str | Unset):
        search_key (str | Unset):
        policy_id (str | Unset):
        app_id (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (list[RawFilter] | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | GrantPage]
    """

    kwargs = _get_kwargs(
        body=body,
        sort_order=sort_order,
        per_page=per_page,
        page=page,
        next_page_token=next_page_token,
        ids=ids,
        search_key=search_key,
        policy_id=policy_id,
        app_id=app_id,
        x_tenant_id=x_tenant_id,
        x_on_behalf_of=x_on_behalf_of,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: list[RawFilter] | None | Unset = UNSET,
    sort_order: str | Unset = UNSET,
    per_page: int | Unset = UNSET,
    page: int | Unset = UNSET,
    next_page_token: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    search_key: str | Unset = UNSET,
    policy_id: str | Unset = UNSET,
    app_id: str | Unset = UNSET,
    x_tenant_id: str,
    x_on_behalf_of: str | Unset = UNSET,
) -> ErrorBody | GrantPage | None:
    """Find grants. The body is an array of filter objects `{"attribute", "operator",
    "values": [{"value": ..}]}`, ANDed (`[]` or no body: all grants).

     Attributes: `status` (effective; buckets `ACTIVE` = GRANTED+EXTENDED, `INACTIVE` =
    REVOKED+EXPIRED, or a raw status: `GRANTED`, `EXTENDED`, `REVOKED`, `EXPIRED`,
    `PENDING_APPROVAL`, `APPROVAL_EXPIRED` (a pending grant past its approval deadline),
    `DENIED`), `approver` (a user who approved the grant: `EQUALS`, `IN`/`IS_ANY_OF` and
    their negations), `user` (principal id), `principal`
    (`T::"id"`), `app`, `entitlement` / `entitlement_value` (resource id), `resource`
    (`T::"id"`), `policy` (id or key), `scopes`, `granted_by`, `requested_by`, and the
    timestamps `granted_at`, `expires_at`, `last_used_at` (alias `last_login_at`: last access
    check), `revoked_at`, `created_at`, `updated_at`; and `review_required` (a boolean: set
    by a re-evaluation after a configuration change, `EQUALS`/`NOT_EQUALS` only).

    Operators: `EQUALS`, `NOT_EQUALS`, `IS_EXACTLY`, `IN`/`IS_ANY_OF`, `NOT_IN`/`IS_NOT_ANY_OF`
    on every other attribute; `IS_BETWEEN` (two values, inclusive), `IS_ON_OR_BEFORE`,
    `IS_ON_OR_AFTER`, `GREATER_THAN`, `LESS_THAN`, `GREATER_THAN_EQUALS`, `LESS_THAN_EQUALS`
    and `IS_WITHIN` (one ISO 8601 duration, e.g. `P7D`: within that span of now, past or
    future) on timestamps (RFC 3339 values); `CONTAINS`, `NOT_CONTAINS`, `TEXT_CONTAINS`,
    `TEXT_DOES_NOT_CONTAINS`, `STARTS_WITH`, `ENDS_WITH` on text attributes (ASCII case
    ignored); on `scopes`, `CONTAINS` = has every value, `NOT_CONTAINS` = lacks one,
    `IN` = has any, `NOT_IN` = has none, `EQUALS`/`IS_EXACTLY` = exactly this set;
    `IS_NULL`/`IS_NOT_NULL` (no values) on `app`, `granted_by`, `requested_by`,
    `last_used_at`, `revoked_at`, and on `scopes` (no scopes). Negative operators are exact
    complements: a grant without a value matches `NOT_EQUALS`. Anything else → 400 naming
    the filter, attribute and operator (`details.filter` is its index).

    Pagination: `page` (OFFSET) or `next_page_token` (keyset; wins over `page`). Walking
    the tokens returns each matching grant exactly once while grants are inserted or
    changed, as long as a change does not move a grant's own sort value: extending a grant or
    expiring it by `PUT` moves it in `EXPIRES_AT_*`, an admin's `PUT granted_at` moves it in
    `GRANTED_AT_*`, any write moves it in `UPDATED_AT_*`; `CREATED_AT_*` never moves, so it is
    the order for a walk that must be exact under every kind of write. Membership is judged
    per page (a grant revoked mid-walk leaves an `ACTIVE` list). `total` is counted on the
    page that starts a walk and carried by its tokens.

    Args:
        sort_order (str | Unset):
        per_page (int | Unset):
        page (int | Unset):
        next_page_token (str | Unset):
        ids (str | Unset):
        search_key (str | Unset):
        policy_id (str | Unset):
        app_id (str | Unset):
        x_tenant_id (str):
        x_on_behalf_of (str | Unset):
        body (list[RawFilter] | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | GrantPage
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            sort_order=sort_order,
            per_page=per_page,
            page=page,
            next_page_token=next_page_token,
            ids=ids,
            search_key=search_key,
            policy_id=policy_id,
            app_id=app_id,
            x_tenant_id=x_tenant_id,
            x_on_behalf_of=x_on_behalf_of,
        )
    ).parsed
