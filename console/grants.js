// Grants: the filter builder (POST /v1/grants/list), a grant's page with its history from
// the audit log, revoke and bulk revoke.

import { api, h, fill, link, navigate, pageUrl, errorBox, when, duration, uid, statusBadge, table, loading, field, offered, title, ApiError } from "./lib.js";
import { can, refuse } from "./roles.js";
import { eventLine } from "./audit.js";

// Every attribute of the filter language, with the operators that fit it.
const EQ = ["EQUALS", "NOT_EQUALS", "IS_EXACTLY", "IN", "IS_ANY_OF", "NOT_IN", "IS_NOT_ANY_OF"];
const TEXT = ["CONTAINS", "NOT_CONTAINS", "TEXT_CONTAINS", "TEXT_DOES_NOT_CONTAINS", "STARTS_WITH", "ENDS_WITH"];
const NULL = ["IS_NULL", "IS_NOT_NULL"];
const TIME = ["IS_BETWEEN", "IS_ON_OR_BEFORE", "IS_ON_OR_AFTER", "IS_WITHIN", "GREATER_THAN", "LESS_THAN", "GREATER_THAN_EQUALS", "LESS_THAN_EQUALS"];
export const ATTRIBUTES = {
  status: { ops: EQ, hint: "ACTIVE, INACTIVE, GRANTED, EXTENDED, REVOKED, EXPIRED, PENDING_APPROVAL, APPROVAL_EXPIRED, DENIED" },
  user: { ops: [...EQ, ...TEXT], hint: "a principal id, e.g. alice" },
  principal: { ops: EQ, hint: 'User::"alice"' },
  app: { ops: [...EQ, ...TEXT, ...NULL], hint: "an App id" },
  entitlement: { ops: [...EQ, ...TEXT], hint: "a resource id" },
  entitlement_value: { ops: [...EQ, ...TEXT], hint: "a resource id" },
  resource: { ops: EQ, hint: 'App::"crm"' },
  policy: { ops: EQ, hint: "a policy id or key" },
  approver: { ops: EQ, hint: "a User id" },
  scopes: { ops: [...EQ, "CONTAINS", "NOT_CONTAINS", ...NULL], hint: "scope names" },
  granted_by: { ops: [...EQ, ...TEXT, ...NULL], hint: "text" },
  requested_by: { ops: [...EQ, ...TEXT, ...NULL], hint: "text" },
  granted_at: { ops: [...EQ, ...TIME], hint: "RFC 3339 time; P7D for IS_WITHIN" },
  expires_at: { ops: [...EQ, ...TIME], hint: "RFC 3339 time; P7D for IS_WITHIN" },
  last_used_at: { ops: [...EQ, ...TIME, ...NULL], hint: "RFC 3339 time; P7D for IS_WITHIN" },
  revoked_at: { ops: [...EQ, ...TIME, ...NULL], hint: "RFC 3339 time; P7D for IS_WITHIN" },
  created_at: { ops: [...EQ, ...TIME], hint: "RFC 3339 time; P7D for IS_WITHIN" },
  updated_at: { ops: [...EQ, ...TIME], hint: "RFC 3339 time; P7D for IS_WITHIN" },
  review_required: { ops: ["EQUALS", "NOT_EQUALS"], hint: "true or false" },
};
const MULTI = new Set(["IN", "IS_ANY_OF", "NOT_IN", "IS_NOT_ANY_OF"]);
const SORTS = ["GRANTED_AT_DESC", "GRANTED_AT_ASC", "EXPIRES_AT_ASC", "EXPIRES_AT_DESC", "CREATED_AT_ASC", "CREATED_AT_DESC", "UPDATED_AT_ASC", "UPDATED_AT_DESC"];

// The filters of the page's URL: `filters` is a JSON array of {attribute, operator,
// values: [string]}; null when it is not one.
function filtersOf(query) {
  try {
    const f = JSON.parse(query.get("filters") || "[]");
    if (!Array.isArray(f) || !f.every((x) => x && typeof x === "object" && !Array.isArray(x))) return null;
    return f.map((x) => ({ attribute: String(x.attribute ?? ""), operator: String(x.operator ?? ""), values: Array.isArray(x.values) ? x.values : [] }));
  } catch {
    return null;
  }
}

// The API's filter objects for the page's filters.
export function apiFilters(filters) {
  return filters.map((f) => ({
    attribute: String(f.attribute),
    operator: String(f.operator),
    values: (Array.isArray(f.values) ? f.values : []).map((v) => ({ value: v })),
  }));
}

function valueCount(attribute, op) {
  if (op === "IS_NULL" || op === "IS_NOT_NULL") return 0;
  if (op === "IS_BETWEEN") return 2;
  // A set of scopes is compared with a set of values, whatever the operator.
  return MULTI.has(op) || attribute === "scopes" ? "many" : 1;
}

// The values typed in a multi-value field: a JSON array of strings, or values separated
// by commas.
function splitValues(text) {
  const t = text.trim();
  if (t.startsWith("[")) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v)) return v.map(String);
    } catch { /* read as text below */ }
  }
  return t.split(",").map((v) => v.trim()).filter((v) => v !== "");
}

function joinValues(values) {
  return values.some((v) => String(v).includes(",")) ? JSON.stringify(values.map(String)) : values.join(", ");
}

// One row of the builder: attribute, operator, values.
function filterRow(f, onRemove) {
  // An attribute the builder does not know (an alias, a typo in a shared address) is kept
  // as it is, with every operator, so the builder shows what the API is asked.
  const known = Object.hasOwn(ATTRIBUTES, f.attribute);
  const attrs = known || !f.attribute ? Object.keys(ATTRIBUTES) : [f.attribute, ...Object.keys(ATTRIBUTES)];
  const opsOf = (a) => (Object.hasOwn(ATTRIBUTES, a) ? ATTRIBUTES[a] : { ops: [...new Set([...EQ, ...TEXT, ...TIME, ...NULL])], hint: "value" });
  const attr = h("select", { class: "f-attribute", "aria-label": "attribute" },
    attrs.map((a) => h("option", { value: a, selected: a === f.attribute }, a)));
  const op = h("select", { class: "f-operator", "aria-label": "operator" });
  const values = h("span", { class: "f-values" });
  const row = h("div", { class: "filter" }, attr, op, values,
    h("button", { type: "button", class: "small secondary", onclick: onRemove, title: "Remove this filter" }, "✕"));
  const fillOps = () => {
    const ops = opsOf(attr.value).ops;
    const keep = ops.includes(op.value) ? op.value : (ops.includes(f.operator) ? f.operator : ops[0]);
    fill(op, ops.map((o) => h("option", { value: o, selected: o === keep }, o)));
    op.value = keep;
  };
  const fillValues = () => {
    const n = valueCount(attr.value, op.value);
    const hint = opsOf(attr.value).hint;
    const old = Array.isArray(f.values) ? f.values.map(String) : [];
    if (n === 0) fill(values, h("span", { class: "muted" }, "(no value)"));
    else if (n === 2) fill(values,
      h("input", { class: "f-value", "aria-label": "from", placeholder: "from: " + hint, value: old[0] || "" }),
      h("input", { class: "f-value", "aria-label": "to", placeholder: "to", value: old[1] || "" }));
    else if (n === "many") fill(values, h("input", { class: "f-value f-many", "aria-label": "values", placeholder: hint + " (separate by commas, or a JSON array)", value: joinValues(old), size: 30 }));
    else fill(values, h("input", { class: "f-value", "aria-label": "value", placeholder: hint, value: old[0] || "", size: 24 }));
  };
  attr.addEventListener("change", () => { fillOps(); fillValues(); });
  op.addEventListener("change", fillValues);
  fillOps();
  fillValues();
  row.read = () => {
    const inputs = [...values.querySelectorAll("input")];
    let vals = [];
    if (inputs.length === 1 && inputs[0].classList.contains("f-many")) vals = splitValues(inputs[0].value);
    else vals = inputs.map((i) => i.value.trim());
    return { attribute: attr.value, operator: op.value, values: vals };
  };
  return row;
}

export async function list(main, _params, query) {
  main.append(title("Grants"));
  if (!can("grants")) return refuse(main, "grants");
  const filters = filtersOf(query);
  if (filters === null) {
    main.append(h("div", { class: "error", role: "alert", id: "bad-filters" },
      h("strong", { class: "code" }, "invalid_input"), " The address's filters are not a JSON array of filter objects. ",
      link("/console/grants", "Start again")));
    return;
  }
  const sort = query.get("sort_order") || "GRANTED_AT_DESC";
  const perPage = query.get("per_page") || "25";
  const search = query.get("search_key") || "";

  // The builder.
  const rows = h("div", { class: "filters", id: "filters" });
  const addRow = (f) => {
    const row = filterRow(f, () => row.remove());
    rows.append(row);
  };
  filters.forEach(addRow);
  const searchInput = h("input", { id: "search-key", value: search, placeholder: "principal, resource, app or reason", size: 28 });
  const sortSel = h("select", { id: "sort-order" }, offered(SORTS, sort).map((s) => h("option", { value: s, selected: s === sort }, s)));
  const perSel = h("select", { id: "per-page" }, offered(["10", "25", "50", "100"], perPage).map((n) => h("option", { value: n, selected: n === perPage }, n)));
  const current = () => ({
    filters: [...rows.children].map((r) => r.read()),
    sort_order: sortSel.value,
    per_page: perSel.value,
    search_key: searchInput.value.trim(),
  });
  const urlFor = (c, extra = {}) => pageUrl("grants", {
    filters: c.filters.length ? JSON.stringify(c.filters) : "",
    sort_order: c.sort_order === "GRANTED_AT_DESC" ? "" : c.sort_order,
    per_page: c.per_page === "25" ? "" : c.per_page,
    search_key: c.search_key,
    ...extra,
  });
  const form = h("form", { class: "card", id: "grant-filters", onsubmit: (e) => { e.preventDefault(); navigate(urlFor(current())); } },
    rows,
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", id: "add-filter", onclick: () => addRow({ attribute: "status", operator: "EQUALS", values: [] }) }, "+ Filter"),
      field("Search", searchInput), field("Sort", sortSel), field("Per page", perSel),
      h("button", { type: "submit", id: "apply" }, "Apply")));
  main.append(form);

  const results = h("div", { id: "grant-results" });
  main.append(results);
  const applied = { filters, sort_order: sort, per_page: perPage, search_key: search };
  await loading(results, async () => {
    const { body } = await api("/v1/grants/list", {
      method: "POST",
      body: apiFilters(filters),
      query: {
        sort_order: sort, per_page: perPage, search_key: search,
        next_page_token: query.get("next_page_token"), page: query.get("next_page_token") ? "" : query.get("page"),
      },
    });
    const pager = (id) => h("div", { class: "pager", id },
      h("span", { class: "grant-total" }, `${body.total} grant${body.total === 1 ? "" : "s"}`, " · page ", String(body.page)),
      body.page > 1 ? link(urlFor(applied), "First page") : null,
      body.next_page_token ? link(urlFor(applied, { next_page_token: body.next_page_token }), "Next page →") : null);
    // Bulk revoke takes filters only: with a search applied it would touch more than the
    // list shows, so it is offered only without one.
    const bulk = !can("bulk_revoke") || !filters.length ? null
      : search ? h("p", { class: "muted", id: "bulk-needs-no-search" }, "Bulk revoke acts on the filters alone: clear the search to revoke what the filters match.")
        : bulkRevoke(applied);
    return h("div", {},
      pager("pager-top"),
      table([
        { title: "Status", cell: (g) => statusBadge(g.status) },
        { title: "Principal", cell: (g) => link("/console/grants/" + encodeURIComponent(g.id), uid(g.principal)) },
        { title: "Resource", cell: (g) => uid(g.resource) },
        { title: "Scopes", cell: (g) => g.scopes.join(", ") || "—" },
        { title: "Policy", cell: (g) => link("/console/policies/" + encodeURIComponent(g.policy_id), g.policy_key || g.policy_id.slice(0, 8)) },
        { title: "Granted", cell: (g) => when(g.granted_at) },
        { title: "Expires", cell: (g) => when(g.expires_at) },
        { title: "Requested by", cell: (g) => g.requested_by || "—" },
      ], body.items, "No grant matches."),
      body.items.length > 10 ? pager("pager-bottom") : null,
      bulk);
  });
}

// The bulk revoke of the grants the page's filters match, after a confirmation that says
// how many it will touch.
function bulkRevoke(applied) {
  const out = h("div", { id: "bulk-result" });
  const dialog = h("dialog", { id: "bulk-dialog" });
  const start = async () => {
    fill(out);
    const filters = apiFilters(applied.filters);
    let total;
    try {
      const { body } = await api("/v1/grants/list", {
        method: "POST",
        query: { per_page: 1 },
        body: [...filters, { attribute: "status", operator: "IS_ANY_OF", values: [{ value: "ACTIVE" }, { value: "PENDING_APPROVAL" }] }],
      });
      total = body.total;
    } catch (e) {
      return fill(out, errorBox(e));
    }
    const reason = h("input", { id: "bulk-reason", required: true, placeholder: "why (recorded on every grant)", size: 30 });
    const msg = h("div", {});
    fill(dialog,
      h("form", { method: "dialog", onsubmit: async (e) => {
        e.preventDefault();
        if (!reason.value.trim()) return fill(msg, errorBox(new ApiError(400, { code: "invalid_input", message: "give a reason" })));
        try {
          const { body } = await api("/v1/grants/revoke", { method: "POST", body: { filters, reason: reason.value.trim() } });
          dialog.close();
          fill(out, h("div", { class: "ok-box", role: "status" }, `Revoked ${body.revoked} grant${body.revoked === 1 ? "" : "s"}. `, link(location.pathname + location.search, "Reload the list")));
        } catch (err) {
          fill(msg, errorBox(err));
        }
      } },
      h("h2", {}, "Revoke matching grants"),
      h("p", { id: "bulk-count" }, `This will revoke ${total} grant${total === 1 ? "" : "s"} (every active or pending grant the filters match). Each gets its own audit event.`),
      field("Reason", reason), msg,
      h("div", { class: "row" },
        h("button", { type: "submit", class: "danger", id: "bulk-confirm", disabled: total === 0 }, `Revoke ${total}`),
        h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"))));
    dialog.showModal();
  };
  return h("div", { class: "card" },
    h("button", { type: "button", class: "danger", id: "bulk-revoke", onclick: start }, "Revoke all matching…"),
    h("span", { class: "muted" }, " asks for confirmation with the number of grants first"), dialog, out);
}

export async function detail(main, params) {
  main.append(title("Grant"));
  if (!can("grants")) return refuse(main, "grants");
  const box = h("div", {});
  main.append(box);
  await loading(box, async () => {
    const { body: g } = await api("/v1/grants/" + encodeURIComponent(params.id));
    return grantView(g);
  });
}

function grantView(g) {
  const active = ["GRANTED", "EXTENDED", "PENDING_APPROVAL"].includes(g.status);
  const props = h("dl", { class: "props", id: "grant-props" },
    h("dt", {}, "Status"), h("dd", { id: "grant-status" }, statusBadge(g.status), g.review_required ? h("span", { class: "badge bad" }, " review required") : null),
    h("dt", {}, "Principal"), h("dd", {}, uid(g.principal)),
    h("dt", {}, "Resource"), h("dd", {}, uid(g.resource), g.app ? ` (app ${g.app})` : ""),
    h("dt", {}, "Scopes"), h("dd", {}, g.scopes.join(", ") || "—"),
    h("dt", {}, "Type"), h("dd", {}, g.grant_type),
    h("dt", {}, "Policy"), h("dd", {}, link("/console/policies/" + encodeURIComponent(g.policy_id), g.policy_key || g.policy_id)),
    h("dt", {}, "Requested by"), h("dd", {}, g.requested_by || "—"),
    h("dt", {}, "Granted by"), h("dd", {}, g.granted_by || "—"),
    h("dt", {}, "Reason"), h("dd", {}, g.reason || "—"),
    h("dt", {}, "Granted at"), h("dd", {}, when(g.granted_at)),
    ["PENDING_APPROVAL", "APPROVAL_EXPIRED", "DENIED"].includes(g.status)
      ? [h("dt", {}, "Approval deadline"), h("dd", {}, when(g.expires_at))]
      : [h("dt", {}, "Expires at"), h("dd", {}, when(g.expires_at), " (", duration((Date.parse(g.expires_at) - Date.parse(g.granted_at)) / 1000), " after granted)")],
    h("dt", {}, "Extensions"), h("dd", {}, String(g.extension_count)),
    h("dt", {}, "Last used"), h("dd", {}, when(g.last_used_at)),
    g.revoked_at ? [h("dt", {}, "Revoked"), h("dd", {}, when(g.revoked_at), " by key ", g.revoked_by || "—", g.revoke_reason ? ": " + g.revoke_reason : "")] : null,
    h("dt", {}, "Version"), h("dd", {}, String(g.version)),
    h("dt", {}, "Id"), h("dd", {}, h("code", {}, g.id)));
  const approval = g.approval ? h("div", { class: "card" },
    h("h2", {}, "Approval"),
    h("p", {}, `${g.approval.approvals.length} of ${g.approval.required} approval${g.approval.required === 1 ? "" : "s"}`,
      g.approval.approvers ? ` from members of ${uid(g.approval.approvers)}` : "", "; deadline ", when(g.approval.deadline),
      "; gives ", duration(g.approval.duration_seconds), " when approved."),
    g.approval.approvals.length ? h("ul", {}, g.approval.approvals.map((a) => h("li", {}, a.approver, " at ", when(a.at), a.reason ? ": " + a.reason : ""))) : null,
    g.approval.denied_by ? h("p", {}, "Denied by ", g.approval.denied_by, " at ", when(g.approval.denied_at), g.approval.deny_reason ? ": " + g.approval.deny_reason : "") : null) : null;
  const notices = g.notices.length ? h("div", { class: "card", id: "grant-notices" }, h("h2", {}, "Notices shown at the request"), g.notices.map((n) => h("div", { class: "notice" }, n))) : null;
  const actions = active && can("revoke") ? revokeForm(g) : null;
  const history = h("div", { class: "card", id: "grant-history" }, h("h2", {}, "History"));
  if (can("audit")) loadHistory(history, g.id);
  else history.append(h("p", { class: "muted" }, "The history comes from the audit log, which this key's role may not read (it needs an admin or auditor key)."));
  return h("div", {}, h("div", { class: "card" }, props), notices, approval, actions, history);
}

function revokeForm(g) {
  const reason = h("input", { id: "revoke-reason", placeholder: "reason (optional)", size: 30 });
  const out = h("div", {});
  const dialog = h("dialog", { id: "revoke-dialog" },
    h("form", { method: "dialog", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
        await api("/v1/grants/" + encodeURIComponent(g.id) + "/revoke", { method: "POST", body, headers: { "If-Match": `"${g.version}"` } });
        dialog.close();
        navigate(location.pathname, true);
      } catch (err) {
        dialog.close();
        fill(out, errorBox(err));
      }
    } },
    h("h2", {}, "Revoke this grant?"),
    h("p", {}, `This revokes 1 grant: ${uid(g.principal)} on ${uid(g.resource)}. It stops working at once.`),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "danger", id: "revoke-confirm" }, "Revoke"),
      h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"))));
  return h("div", { class: "card" }, h("h2", {}, g.status === "PENDING_APPROVAL" ? "Withdraw" : "Revoke"),
    h("div", { class: "row" }, field("Reason", reason),
      h("button", { type: "button", class: "danger", id: "revoke", onclick: () => dialog.showModal() }, "Revoke…")), dialog, out);
}

// The grant's events from the audit log, a page at a time.
async function loadHistory(box, id) {
  const list = h("ol", { class: "timeline", id: "history-events" });
  const more = h("div", {});
  box.append(list, more);
  const page = async (token) => {
    await loading(more, async () => {
      const { body } = await api("/v1/audit-events", { query: { subject: id, per_page: 50, next_page_token: token } });
      for (const ev of body.items) list.append(h("li", {}, eventLine(ev)));
      if (!body.items.length && !token) return h("p", { class: "muted" }, "No events.");
      return body.next_page_token ? h("button", { type: "button", class: "secondary", onclick: () => page(body.next_page_token) }, "More events") : h("span", {});
    });
  };
  await page(null);
}
