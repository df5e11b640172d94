// Approvals: the queue of pending requests the person (X-On-Behalf-Of, a User id) may
// approve now, with approve and deny.

import { api, h, fill, link, pageUrl, errorBox, when, duration, uid, table, loading, title, session } from "./lib.js";
import { can, refuse } from "./roles.js";

export async function queue(main, _params, query) {
  main.append(title("Approvals"));
  if (!can("approvals")) return refuse(main, "approvals");
  if (!session.actor) {
    main.append(h("div", { class: "error", role: "alert", id: "need-actor" },
      h("strong", { class: "code" }, "approver needed"), " ",
      "Approvals are made by a person: enter your User id in “on behalf of” at the top of the page, then reload."));
    return;
  }
  main.append(h("p", { class: "muted" }, "Requests that ", h("strong", {}, session.actor), " may approve now, oldest first."));
  const results = h("div", { id: "approval-results" });
  main.append(results);
  await loading(results, async () => {
    const { body } = await api("/v1/approvals", { query: { limit: 25, after: query.get("after") } });
    const rows = table([
      { title: "Grant", cell: (g) => link("/console/grants/" + encodeURIComponent(g.id), uid(g.principal)) },
      { title: "Resource", cell: (g) => uid(g.resource) },
      { title: "Scopes", cell: (g) => g.scopes.join(", ") || "—" },
      { title: "Requested by", cell: (g) => g.requested_by || "—" },
      { title: "Reason", cell: (g) => g.reason || "—" },
      { title: "Duration", cell: (g) => duration(g.approval && g.approval.duration_seconds) },
      { title: "Approvals", cell: (g) => g.approval ? `${g.approval.approvals.length} of ${g.approval.required}` : "—" },
      { title: "Deadline", cell: (g) => when(g.expires_at) },
      { title: "", cell: (g) => decide(g) },
    ], body.items, "Nothing waits for you.");
    return h("div", {}, rows,
      h("div", { class: "pager" },
        query.get("after") ? link(pageUrl("approvals", {}), "First page") : null,
        body.next_after ? link(pageUrl("approvals", { after: body.next_after }), "More →") : null));
  });
}

function decide(g) {
  const reason = h("input", { class: "approval-reason", placeholder: "reason (optional)", size: 14 });
  const out = h("div", {});
  const send = (verb) => async () => {
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
      const { body: r } = await api(`/v1/grants/${encodeURIComponent(g.id)}/${verb}`, { method: "POST", body, headers: { "If-Match": `"${g.version}"` } });
      fill(out, h("div", { class: "ok-box", role: "status" },
        verb === "approve" ? (r.activated ? "Approved: the grant is active." : "Approval recorded; more are needed.") : "Denied.",
        " ", link("/console/grants/" + encodeURIComponent(g.id), "Open")));
    } catch (e) {
      // Decided elsewhere meanwhile, or refused: the row is stale either way; reload the
      // queue to act again.
      fill(out, errorBox(e), " ", link(location.pathname + location.search, "Reload the queue"));
    }
  };
  const buttons = [
    h("button", { type: "button", class: "small approve", onclick: send("approve") }, "Approve"),
    h("button", { type: "button", class: "small danger deny", onclick: send("deny") }, "Deny"),
  ];
  return h("div", { class: "row" }, reason, buttons, out);
}
