// Policies: the list by priority, a policy's rules with their assembled Cedar, notices and
// duration limits, and an editor that previews a change's impact (POST /v1/changes/preview)
// and saves it with PATCH and If-Match, showing every diagnostic next to the rule it names.

import { api, h, fill, link, navigate, pageUrl, errorBox, when, duration, table, loading, field, title, pre, ApiError } from "./lib.js";
import { can, refuse } from "./roles.js";

export async function list(main, _params, query) {
  main.append(title("Policies"));
  if (!can("policies")) return refuse(main, "policies");
  const results = h("div", { id: "policy-results" });
  main.append(h("p", { class: "muted" }, "Highest priority first. Priority chooses the governing policy of a permitted grant; every enabled rule is evaluated, and any determining forbid denies."), results);
  await loading(results, async () => {
    const { body } = await api("/v1/policies", { query: { sort_order: "PRIORITY_DESC", per_page: 25, next_page_token: query.get("next_page_token") } });
    return h("div", {},
      h("p", {}, `${body.total} polic${body.total === 1 ? "y" : "ies"}`),
      table([
        { title: "Priority", cell: (p) => String(p.priority) },
        { title: "Name", cell: (p) => link("/console/policies/" + encodeURIComponent(p.id), p.name) },
        { title: "Key", cell: (p) => p.key || "—" },
        { title: "Enabled", cell: (p) => h("span", { class: "badge " + (p.enabled ? "ok" : "") }, p.enabled ? "enabled" : "disabled") },
        { title: "Rules", cell: (p) => `${p.rules.length} (${p.rules.filter((r) => r.effect === "forbid").length} forbid)` },
        { title: "Max / default", cell: (p) => `${duration(p.max_duration_seconds)} / ${p.default_duration_seconds ? duration(p.default_duration_seconds) : "max"}` },
        { title: "Approval", cell: (p) => p.approval ? `${p.approval.count} approver${p.approval.count === 1 ? "" : "s"}` : "—" },
      ], body.items, "No policies yet."),
      h("div", { class: "pager" },
        query.get("next_page_token") ? link(pageUrl("policies", {}), "First page") : null,
        body.next_page_token ? link(pageUrl("policies", { next_page_token: body.next_page_token }), "Next page →") : null));
  });
}

export async function detail(main, params) {
  main.append(title("Policy"));
  if (!can("policies")) return refuse(main, "policies");
  const box = h("div", {});
  main.append(box);
  await loading(box, async () => {
    const { body } = await api("/v1/policies/" + encodeURIComponent(params.id));
    return view(body);
  });
  if (location.hash) {
    let id = location.hash.slice(1);
    try { id = decodeURIComponent(id); } catch { /* the hash as it is */ }
    const target = document.getElementById(id);
    if (target) {
      target.classList.add("highlight");
      target.scrollIntoView();
    }
  }
}

const SCOPES = ["any", "eq", "in", "is", "is_in"];

function scopeText(kind, type, id) {
  if (kind === "any") return "any";
  if (kind === "is") return `is ${type}`;
  if (kind === "is_in") return `is ${type} in ${id}`;
  return `${kind === "eq" ? "==" : "in"} ${type}::${JSON.stringify(id)}`;
}

function view(p) {
  const rules = h("div", { id: "rules" }, p.rules.length ? null : h("p", { class: "muted" }, "No rules: this policy permits and forbids nothing."), p.rules.map((r) => h("div", { class: "rule", id: "rule-" + r.id },
    h("div", {}, h("span", { class: "badge " + (r.effect === "permit" ? "ok" : "bad") }, r.effect), ` rule ${r.ordinal} · `,
      "principal ", scopeText(r.principal_scope_type, r.principal_entity_type, r.principal_entity_id), " · action ",
      r.action_scope_type === "any" ? "any" : (r.action_ids || []).join(", "), " · resource ",
      scopeText(r.resource_scope_type, r.resource_entity_type, r.resource_entity_id),
      r.audit_session ? " · audited session" : ""),
    r.notice ? h("div", { class: "notice rule-notice" }, r.notice) : null,
    pre(r.policy_text))));
  const props = h("dl", { class: "props" },
    h("dt", {}, "Key"), h("dd", {}, p.key || "—"),
    h("dt", {}, "Enabled"), h("dd", {}, p.enabled ? "yes" : "no"),
    h("dt", {}, "Priority"), h("dd", {}, String(p.priority)),
    h("dt", {}, "Max duration"), h("dd", {}, duration(p.max_duration_seconds)),
    h("dt", {}, "Default duration"), h("dd", {}, p.default_duration_seconds ? duration(p.default_duration_seconds) : "the max"),
    h("dt", {}, "Covers descendants"), h("dd", {}, p.covers_descendants ? "yes" : "no"),
    h("dt", {}, "Approval"), h("dd", {}, p.approval ? `${p.approval.count} of ${p.approval.approvers ? "members of " + p.approval.approvers.type + "::" + JSON.stringify(p.approval.approvers.id) : "any approver"}, within ${duration(p.approval.timeout_seconds)}` : "none"),
    h("dt", {}, "Description"), h("dd", {}, p.description || "—"),
    h("dt", {}, "Version"), h("dd", {}, String(p.version), " · updated ", when(p.updated_at)),
    h("dt", {}, "Id"), h("dd", {}, h("code", {}, p.id)));
  const editBox = h("div", { id: "editor-box" });
  const head = h("div", { class: "row" }, h("h2", { id: "policy-name" }, p.name),
    can("edit_policies") ? h("button", { type: "button", id: "edit", class: "secondary", onclick: () => { fill(editBox, editor(p)); editBox.scrollIntoView(); } }, "Edit") : null);
  return h("div", {}, head, h("div", { class: "card" }, props), h("h2", {}, "Rules"), rules,
    h("details", {}, h("summary", {}, "The policy's Cedar"), pre(p.cedar_policy_set)), editBox);
}

// The editor: the policy's fields and a card per rule. `Preview` asks what the change would
// do; `Save` sends PATCH with If-Match of the version it was opened on.
function editor(p) {
  const name = h("input", { id: "e-name", value: p.name, size: 30 });
  const enabled = h("input", { id: "e-enabled", type: "checkbox", checked: p.enabled });
  const priority = h("input", { id: "e-priority", type: "number", value: String(p.priority), step: 1 });
  const max = h("input", { id: "e-max", type: "number", value: String(p.max_duration_seconds), min: 1 });
  const def = h("input", { id: "e-default", type: "number", value: p.default_duration_seconds ? String(p.default_duration_seconds) : "", min: 1, placeholder: "the max" });
  const top = h("div", { class: "policy-diagnostics" });
  const ruleList = h("div", { id: "edit-rules" });
  const cards = [];
  const addRule = (r) => {
    const card = ruleEditor(r, () => {
      cards.splice(cards.indexOf(card), 1);
      card.remove();
    });
    cards.push(card);
    ruleList.append(card);
  };
  p.rules.forEach(addRule);
  const out = h("div", { id: "save-result" });

  // An integer field's value; a field left empty or not an integer is refused here, named.
  const integer = (input, label, optional) => {
    const v = input.value.trim();
    if (v === "" && optional) return null;
    if (!/^-?\d+$/.test(v)) throw new ApiError(400, { code: "invalid_input", message: `${label}: give a whole number` });
    return Number(v);
  };
  // Existing rules keep their ordinals (a diagnostic names a rule by its id, or by its
  // ordinal); a new rule gets the next ordinal after those before it.
  const patch = () => {
    let last = -1;
    const rules = cards.map((c) => {
      const r = c.read();
      const ordinal = c.ordinal !== null && c.ordinal > last ? c.ordinal : last + 1;
      last = ordinal;
      c.sentOrdinal = ordinal;
      return { ...r, ordinal };
    });
    return {
      name: name.value,
      enabled: enabled.checked,
      priority: integer(priority, "Priority"),
      max_duration_seconds: integer(max, "Max duration"),
      default_duration_seconds: integer(def, "Default duration", true),
      rules,
    };
  };
  // What the policy is now, in the shape of the patch: a save that changes nothing is not sent.
  const unchanged = (body) => JSON.stringify(body) === JSON.stringify({
    name: p.name, enabled: p.enabled, priority: p.priority, max_duration_seconds: p.max_duration_seconds,
    default_duration_seconds: p.default_duration_seconds ?? null,
    rules: p.rules.map((r) => ({ ...ruleInput(r), ordinal: r.ordinal })),
  });
  const clear = () => {
    fill(top);
    fill(out);
    cards.forEach((c) => c.diagnose([]));
  };
  const showError = (e) => {
    if (!(e instanceof ApiError) || e.code !== "invalid_input") {
      fill(out, errorBox(e));
      return;
    }
    const placed = place(e, cards);
    fill(top, h("div", { class: "error", role: "alert", id: "policy-error" },
      h("strong", { class: "code" }, e.code), " ", e.message,
      placed.rest.length ? h("ul", {}, placed.rest.map((n) => h("li", { class: "diagnostic" }, n))) : null,
      placed.count ? h("p", { class: "hint" }, `${placed.count} diagnostic${placed.count === 1 ? " is" : "s are"} shown next to the rule${placed.count === 1 ? "" : "s"} named.`) : null));
    top.scrollIntoView();
  };
  const preview = h("div", { id: "preview-result" });
  const save = async () => {
    clear();
    try {
      const change = patch();
      if (unchanged(change)) {
        fill(out, h("div", { class: "ok-box", role: "status", id: "nothing-changed" }, "Nothing changed: there is nothing to save."));
        return;
      }
      const { body } = await api("/v1/policies/" + encodeURIComponent(p.id), { method: "PATCH", body: change, headers: { "If-Match": `"${p.version}"` } });
      const warnings = body.notices || [];
      navigate(location.pathname, true);
      if (warnings.length) {
        const main = document.getElementById("main");
        main.prepend(h("div", { class: "card", id: "lint-notices" }, h("strong", {}, "Saved, with warnings:"), warnings.map((w) => h("div", { class: "notice" }, w.message))));
      }
    } catch (e) {
      showError(e);
    }
  };
  const doPreview = async () => {
    clear();
    await loading(preview, async () => {
      try {
        const change = patch();
        const { body } = await api("/v1/changes/preview", { method: "POST", body: { method: "PATCH", path: "/v1/policies/" + p.id, body: change } });
        return impact(body);
      } catch (e) {
        showError(e);
        return h("span", {});
      }
    });
  };
  return h("form", { class: "card", id: "editor", onsubmit: (e) => { e.preventDefault(); save(); } },
    h("h2", {}, "Edit ", p.name, ` (version ${p.version})`),
    top,
    h("div", { class: "row" }, field("Name", name), field("Enabled", enabled), field("Priority", priority),
      field("Max duration (s)", max), field("Default duration (s)", def)),
    ruleList,
    h("button", { type: "button", class: "secondary", id: "add-rule", onclick: () => addRule({ effect: "permit", principal_scope_type: "any", action_scope_type: "any", resource_scope_type: "any" }) }, "+ Rule"),
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", id: "preview", onclick: doPreview }, "Preview impact"),
      h("button", { type: "submit", id: "save" }, "Save"),
      h("button", { type: "button", class: "secondary", onclick: () => navigate(location.pathname, true) }, "Cancel")),
    preview, out);
}

// Places each diagnostic of a refused write next to its rule: field errors name
// `rules[i].field` (i = the card), Cedar diagnostics `rule <ordinal> (<id>)` (the card of
// that rule id, or of the ordinal sent for a new rule). What names no rule stays at the top.
function place(e, cards) {
  const perCard = cards.map(() => []);
  const rest = [];
  let count = 0;
  const fields = (e.details && e.details.fields) || [];
  const fieldNotices = new Set();
  for (const f of fields) {
    const m = /^rules\[(\d+)\](?:\.(.*))?$/.exec(f.field || "");
    fieldNotices.add(`${f.field}: ${f.message}`);
    if (m && perCard[Number(m[1])]) {
      perCard[Number(m[1])].push({ field: m[2] || "", text: f.message });
      count++;
    } else rest.push(`${f.field}: ${f.message}`);
  }
  for (const n of e.notices || []) {
    if (fieldNotices.has(n)) continue;
    const m = /^rule (\d+) \(([0-9a-f-]+)\): ([\s\S]*)$/.exec(n);
    let i = m ? cards.findIndex((c) => c.ruleId === m[2]) : -1;
    if (m && i < 0) i = cards.findIndex((c) => c.sentOrdinal === Number(m[1]));
    if (m && perCard[i]) {
      perCard[i].push({ field: "", text: m[3] });
      count++;
    } else rest.push(n);
  }
  cards.forEach((c, i) => c.diagnose(perCard[i]));
  return { rest, count };
}

function ruleEditor(r, onRemove) {
  const effect = h("select", { class: "r-effect" }, ["permit", "forbid"].map((x) => h("option", { value: x, selected: x === r.effect }, x)));
  const scope = (prefix, kinds, kind, type, id) => {
    const k = h("select", { class: `r-${prefix}-scope` }, kinds.map((x) => h("option", { value: x, selected: x === kind }, x)));
    const t = h("input", { class: `r-${prefix}-type`, value: type || "", placeholder: "type", size: 10 });
    const i = h("input", { class: `r-${prefix}-id`, value: id || "", placeholder: prefix === "action" ? "ids, comma-separated" : "id", size: 14 });
    return { k, t, i };
  };
  const pr = scope("principal", SCOPES, r.principal_scope_type, r.principal_entity_type, r.principal_entity_id);
  const ac = scope("action", ["any", "eq", "in"], r.action_scope_type, null, (r.action_ids || []).join(", "));
  const re = scope("resource", SCOPES, r.resource_scope_type, r.resource_entity_type, r.resource_entity_id);
  const conditions = h("textarea", { class: "r-conditions", rows: 4, placeholder: "when { … } / unless { … }" }, r.conditions || "");
  const notice = h("textarea", { class: "r-notice", rows: 2, placeholder: "shown to the user" }, r.notice || "");
  const auditSession = h("input", { class: "r-audit", type: "checkbox", checked: !!r.audit_session });
  const diag = h("div", { class: "rule-diagnostics" });
  const byField = {};
  const spot = (name, el) => {
    byField[name] = h("div", { class: "field-diagnostics" });
    return h("div", {}, el, byField[name]);
  };
  const card = h("div", { class: "rule", "data-rule-id": r.id || "" },
    h("div", { class: "row" }, field("Effect", effect),
      field("Principal", h("span", {}, pr.k, " ", pr.t, " ", pr.i)),
      field("Action", h("span", {}, ac.k, " ", ac.i)),
      field("Resource", h("span", {}, re.k, " ", re.t, " ", re.i)),
      h("button", { type: "button", class: "small secondary", onclick: onRemove, title: "Remove this rule" }, "Remove")),
    diag,
    field("Conditions", spot("conditions", conditions)),
    field("Notice", spot("notice", notice)),
    h("label", {}, auditSession, " audit the session"));
  card.ruleId = r.id || null;
  card.ordinal = Number.isInteger(r.ordinal) ? r.ordinal : null;
  // Text is sent as typed (an id with spaces is another id); only an empty field is none.
  const opt = (v) => (v === "" ? null : v);
  card.read = () => ruleInput({
    id: r.id,
    effect: effect.value,
    principal_scope_type: pr.k.value, principal_entity_type: opt(pr.t.value), principal_entity_id: opt(pr.i.value),
    action_scope_type: ac.k.value,
    action_ids: ac.k.value === "any" && !ac.i.value.trim() ? null : ac.i.value.split(",").map((x) => x.trim()).filter((x) => x),
    resource_scope_type: re.k.value, resource_entity_type: opt(re.t.value), resource_entity_id: opt(re.i.value),
    conditions: opt(conditions.value), notice: opt(notice.value), audit_session: auditSession.checked,
  });
  card.diagnose = (items) => {
    card.classList.toggle("has-diagnostic", items.length > 0);
    fill(diag);
    Object.values(byField).forEach((b) => fill(b));
    for (const d of items) {
      const target = byField[d.field] || diag;
      target.append(h("div", { class: "diagnostic", role: "alert" }, d.field && !byField[d.field] ? d.field + ": " : "", d.text));
    }
  };
  return card;
}

// A rule as the API takes it (the fields a PATCH sends), in one order, so a stored rule
// and an edited one compare as JSON.
function ruleInput(r) {
  const out = {};
  if (r.id) out.id = r.id;
  Object.assign(out, {
    effect: r.effect,
    principal_scope_type: r.principal_scope_type, principal_entity_type: r.principal_entity_type ?? null, principal_entity_id: r.principal_entity_id ?? null,
    action_scope_type: r.action_scope_type, action_ids: r.action_ids ?? null,
    resource_scope_type: r.resource_scope_type, resource_entity_type: r.resource_entity_type ?? null, resource_entity_id: r.resource_entity_id ?? null,
    conditions: r.conditions ?? null, notice: r.notice ?? null, audit_session: !!r.audit_session,
  });
  return out;
}

// What a change would do: grants it would deny, clamp or move, and past decisions that
// would flip.
function impact(v) {
  const g = v.grants, d = v.decisions;
  return h("div", { class: "card", id: "impact" },
    h("h2", {}, "Impact of this change"),
    h("p", { id: "impact-grants" }, `Active grants examined: ${g.examined}; would be denied: ${g.counts.denied}, clamped: ${g.counts.clamped}, moved to another policy: ${g.counts.policy_changed}`,
      g.truncated || !g.complete ? " (partial)" : ""),
    g.items.length ? table([
      { title: "Outcome", cell: (x) => x.outcome },
      { title: "Grant", cell: (x) => link("/console/grants/" + encodeURIComponent(x.grant_id), `${x.principal.type}::${JSON.stringify(x.principal.id)}`) },
      { title: "Resource", cell: (x) => `${x.resource.type}::${JSON.stringify(x.resource.id)}` },
      { title: "Expires", cell: (x) => when(x.new_expires_at || x.expires_at) },
    ], g.items.slice(0, 50)) : null,
    h("p", { id: "impact-decisions" }, `Decisions replayed since `, when(d.since), `: ${d.replayed}; would flip: ${d.counts.flipped} (allow→deny ${d.counts.allow_to_deny}, deny→allow ${d.counts.deny_to_allow})`,
      d.truncated || !d.complete ? " (partial)" : ""),
    d.items.length ? table([
      { title: "When", cell: (x) => when(x.at) },
      { title: "Kind", cell: (x) => x.kind },
      { title: "Principal", cell: (x) => `${x.principal.type}::${JSON.stringify(x.principal.id)}` },
      { title: "Resource", cell: (x) => `${x.resource.type}::${JSON.stringify(x.resource.id)}` },
      { title: "Before → after", cell: (x) => `${x.before.decision} → ${x.after.decision}` },
    ], d.items.slice(0, 50)) : null,
    (v.notices || []).map((n) => h("div", { class: "notice" }, n.message)),
    h("p", { class: "muted" }, "Nothing was saved."));
}
