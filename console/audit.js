// Audit: the event log with its filters, each event's full record and the policy-set
// version that decided it, and the chain's verification with its head hash.

import { api, h, fill, link, navigate, pageUrl, errorBox, when, loading, field, offered, title, pre, copyButton } from "./lib.js";
import { can, refuse } from "./roles.js";

export const KINDS = [
  "authorize", "grant.request", "grant.extend", "grant.update", "grant.revoke", "grant.expire",
  "grant.reevaluate", "grant.approve", "grant.deny", "grant.approval_expire",
  "policy.create", "policy.update", "policy.delete", "schema.update", "entities.update",
  "entities.delete", "settings.update", "tenant.quota", "webhook.create", "webhook.delete", "webhook.retry",
  "key.create", "key.revoke", "auth.tenant_mismatch",
];

function decisionBadge(d) {
  return d ? h("span", { class: "badge decision-" + d }, d) : null;
}

// A subject as a link where the console has a page for it.
function subjectOf(s) {
  if (!s) return "—";
  if (s.type === "grant") return link("/console/grants/" + encodeURIComponent(s.id), "grant ", s.id.slice(0, 8) + "…");
  if (s.type === "policy") return link("/console/policies/" + encodeURIComponent(s.id), "policy ", s.id.slice(0, 8) + "…");
  return `${s.type} ${s.id}`;
}

// One event: a summary line, its notices, and the full record on demand.
export function eventLine(ev) {
  const version = ev.policy_set_version;
  const versionBox = h("div", {});
  return h("div", { class: "event", "data-kind": ev.kind, "data-seq": String(ev.seq) },
    h("div", {},
      h("strong", {}, ev.kind), " ", decisionBadge(ev.decision),
      ev.deny_reason ? h("span", { class: "muted" }, " (", ev.deny_reason, ")") : null,
      " · ", when(ev.at), " · #", String(ev.seq), " · ", subjectOf(ev.subject)),
    h("div", { class: "muted" }, "by ", ev.actor.role, " key ", ev.actor.key_id, ev.actor.on_behalf_of ? " on behalf of " + ev.actor.on_behalf_of : ""),
    (ev.notices || []).map((n) => h("div", { class: "notice" }, n)),
    ev.determining && ev.determining.length ? h("div", { class: "muted" }, "determining: ",
      ev.determining.map((d, i) => [i ? ", " : "", link(`/console/policies/${encodeURIComponent(d.policy_id)}#rule-${d.rule_id}`, `${d.effect} rule ${d.rule_id.slice(0, 8)}…`)])) : null,
    h("details", {}, h("summary", {}, "Full record"), pre(JSON.stringify(ev, null, 2), "json"),
      version !== undefined && can("policies") ? h("button", { type: "button", class: "small secondary", onclick: () => showVersion(versionBox, version) }, `Policy-set version ${version}`) : null,
      versionBox));
}

// The Cedar text of a policy-set version.
async function showVersion(box, version) {
  await loading(box, async () => {
    const { body } = await api("/v1/policy-set-versions/" + encodeURIComponent(version));
    return h("div", { class: "version" },
      h("p", {}, `Version ${body.version}, created `, when(body.created_at), ":"),
      pre(body.cedar_policy_set || "// no enabled rules"));
  });
}

export async function list(main, _params, query) {
  main.append(title("Audit"));
  if (!can("audit")) return refuse(main, "audit");
  const q = (k) => query.get(k) || "";

  const kind = h("select", { id: "audit-kind" }, h("option", { value: "" }, "any kind"),
    KINDS.map((k) => h("option", { value: k, selected: k === q("kind") }, k)));
  const subject = h("input", { id: "audit-subject", value: q("subject"), size: 30, placeholder: 'grant or policy id, or User::"alice"' });
  const decision = h("select", { id: "audit-decision" }, ["", "allow", "deny"].map((d) => h("option", { value: d, selected: d === q("decision") }, d || "any decision")));
  const since = h("input", { id: "audit-since", value: q("since"), placeholder: "2026-01-01T00:00:00Z", size: 22 });
  const until = h("input", { id: "audit-until", value: q("until"), placeholder: "RFC 3339, exclusive", size: 22 });
  const per = q("per_page") || "25";
  const perPage = h("select", { id: "audit-per-page" }, offered(["10", "25", "50", "100"], per).map((n) => h("option", { value: n, selected: n === per }, n)));
  const filters = () => ({ kind: kind.value, subject: subject.value.trim(), decision: decision.value, since: since.value.trim(), until: until.value.trim(), per_page: perPage.value === "25" ? "" : perPage.value });
  main.append(h("form", { class: "card", id: "audit-filters", onsubmit: (e) => { e.preventDefault(); navigate(pageUrl("audit", filters())); } },
    h("div", { class: "row" }, field("Kind", kind), field("Subject", subject), field("Decision", decision), field("Since", since), field("Until", until), field("Per page", perPage),
      h("button", { type: "submit", id: "audit-apply" }, "Apply")),
    h("small", { class: "help" }, "Events are listed oldest first. A user's decisions and denied requests have the subject User::\"id\"; a grant's events its id.")));

  main.append(verifyCard());

  const results = h("div", { id: "audit-results" });
  main.append(results);
  const applied = { kind: q("kind"), subject: q("subject"), decision: q("decision"), since: q("since"), until: q("until"), per_page: q("per_page") };
  await loading(results, async () => {
    const { body } = await api("/v1/audit-events", { query: { ...applied, next_page_token: q("next_page_token") } });
    const pager = h("div", { class: "pager" },
      q("next_page_token") ? link(pageUrl("audit", applied), "First page") : null,
      body.next_page_token ? link(pageUrl("audit", { ...applied, next_page_token: body.next_page_token }), "Next page →") : null);
    if (!body.items.length) return h("div", {}, h("p", { class: "muted empty" }, "No event matches."), pager);
    return h("div", {}, h("ol", { class: "timeline", id: "audit-events" }, body.items.map((ev) => h("li", {}, eventLine(ev)))), pager);
  });
}

function verifyCard() {
  const out = h("div", { id: "verify-result" });
  return h("div", { class: "card" },
    h("div", { class: "row" },
      h("button", { type: "button", id: "verify", class: "secondary", onclick: () => loading(out, async () => {
        const { body } = await api("/v1/audit-events/verify");
        return h("div", { class: body.ok ? "ok-box" : "error", role: "status" },
          h("strong", { id: "verify-state" }, body.ok ? "Chain verified" : "Chain broken"),
          ` · ${body.events} events · head #${body.head_seq}`,
          body.first_bad ? h("p", {}, "First bad event: ", h("code", {}, body.first_bad), body.problem ? " — " + body.problem : "") : null,
          h("p", {}, "head_hash ", h("code", { id: "head-hash" }, body.head_hash), " ", copyButton(body.head_hash)),
          h("small", { class: "help" }, "Record head_hash elsewhere: a later verification that does not extend it shows a rewritten or truncated tail."));
      }) }, "Verify the chain"),
      h("span", { class: "muted" }, "Recomputes every event's hash (takes seconds on a large log).")),
    out);
}
