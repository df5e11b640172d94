// Decisions: a form that sends POST /v1/authorize and shows the decision, its deny reason,
// the determining rules (linked to their policies) and the notices. The form's fields are
// in the page's URL, so a question can be shared; it is asked only when the person submits
// it (every decision is audited).

import { api, h, fill, link, pageUrl, errorBox, field, title, parseUid, ApiError } from "./lib.js";
import { can, refuse } from "./roles.js";

export async function form(main, _params, query) {
  main.append(title("Decisions"));
  if (!can("decide")) return refuse(main, "decide");
  const q = (k, d = "") => query.get(k) || d;
  const principal = h("input", { id: "d-principal", value: q("principal", 'User::"alice"'), size: 28 });
  const action = h("input", { id: "d-action", value: q("action", 'Action::"request"'), size: 28 });
  const resource = h("input", { id: "d-resource", value: q("resource", 'App::"crm"'), size: 28 });
  const context = h("textarea", { id: "d-context", rows: 5 }, q("context", '{"scopes": [], "reason": "", "extension_count": 0}'));
  const out = h("div", { id: "decision-result" });
  const read = () => ({ principal: principal.value.trim(), action: action.value.trim(), resource: resource.value.trim(), context: context.value.trim() });
  main.append(h("form", { class: "card", id: "decide-form", onsubmit: (e) => {
    e.preventDefault();
    const f = read();
    // The question goes into the address (to share it), without asking it again on load.
    history.replaceState(null, "", pageUrl("decide", f));
    ask(out, f);
  } },
  h("div", { class: "row" }, field("Principal", principal), field("Action", action), field("Resource", resource)),
  field("Context (JSON)", context),
  h("button", { type: "submit", id: "decide" }, "Decide")), out);
}

async function ask(out, f) {
  const p = parseUid(f.principal), a = parseUid(f.action), r = parseUid(f.resource);
  const bad = !p ? "principal" : !a ? "action" : !r ? "resource" : null;
  if (bad) return fill(out, errorBox(new ApiError(400, { code: "invalid_input", message: `${bad}: write it as Type::"id"` })));
  let context = {};
  if (f.context) {
    try { context = JSON.parse(f.context); } catch (e) {
      return fill(out, errorBox(new ApiError(400, { code: "invalid_input", message: "context is not JSON: " + e.message })));
    }
  }
  fill(out, h("p", { class: "loading" }, h("span", { class: "spin" }), " Deciding…"));
  try {
    const { body } = await api("/v1/authorize", { method: "POST", body: { principal: p, action: a, resource: r, context } });
    fill(out, result(body));
  } catch (e) {
    fill(out, errorBox(e));
  }
}

function result(d) {
  return h("div", { class: "card" },
    h("h2", {}, "Decision: ", h("span", { class: "badge decision-" + d.decision, id: "decision" }, d.decision),
      d.deny_reason ? h("span", { class: "muted", id: "deny-reason" }, " — ", d.deny_reason) : null),
    h("p", { class: "muted" }, `Decided on policy-set version ${d.policy_set_version}.`),
    h("h2", {}, "Determining rules"),
    d.determining.length ? h("ul", { id: "determining" }, d.determining.map((x) => h("li", {},
      h("span", { class: "badge " + (x.effect === "permit" ? "ok" : "bad") }, x.effect), " ",
      link(`/console/policies/${encodeURIComponent(x.policy_id)}#rule-${x.rule_id}`, "rule ", x.rule_id), " of policy ", x.policy_id))) : h("p", { class: "muted" }, "None (no rule applied)."),
    d.notices.length ? [h("h2", {}, "Notices"), h("div", { id: "notices" }, d.notices.map((n) => h("div", { class: "notice" }, n)))] : null,
    d.errors && d.errors.length ? [h("h2", {}, "Errors"), h("ul", {}, d.errors.map((e) => h("li", {}, e)))] : null);
}
