// The console's entry: sign-in, navigation and the router. Each page is a module with a
// `render(main, params, query)` function; the URL (path and query string) is the whole
// state of a page, so any page can be shared or reloaded.

import { session, h, fill, link, navigate, setRouter, field, errorBox } from "./lib.js";
import { detectRole, role, can, forget } from "./roles.js";
import * as grants from "./grants.js";
import * as policies from "./policies.js";
import * as decisions from "./decisions.js";
import * as audit from "./audit.js";
import * as approvals from "./approvals.js";

const PAGES = [
  { path: "grants", label: "Grants", page: grants.list },
  { path: "grants/:id", page: grants.detail, nav: "grants" },
  { path: "policies", label: "Policies", page: policies.list },
  { path: "policies/:id", page: policies.detail, nav: "policies" },
  { path: "decide", label: "Decisions", page: decisions.form },
  { path: "audit", label: "Audit", page: audit.list },
  { path: "approvals", label: "Approvals", page: approvals.queue },
];

function match(rest) {
  for (const p of PAGES) {
    const want = p.path.split("/");
    const got = rest.split("/");
    if (want.length !== got.length) continue;
    const params = {};
    let ok = true;
    want.forEach((w, i) => {
      if (w.startsWith(":")) {
        try { params[w.slice(1)] = decodeURIComponent(got[i]); } catch { params[w.slice(1)] = got[i]; }
      }
      else if (w !== got[i]) ok = false;
    });
    if (ok) return { p, params };
  }
  return null;
}

function renderNav(current) {
  const nav = document.getElementById("nav");
  if (!session.signedIn()) return fill(nav);
  fill(nav, PAGES.filter((p) => p.label).map((p) => {
    const a = link("/console/" + p.path, p.label);
    if (current === p.path) a.setAttribute("aria-current", "page");
    if (!can(p.path)) {
      a.classList.add("unavailable");
      a.title = "This key's role may not use this page";
    }
    return a;
  }));
}

function renderWho() {
  const who = document.getElementById("who");
  if (!session.signedIn()) return fill(who);
  const actor = h("input", { id: "actor", value: session.actor, placeholder: "on behalf of (e.g. you@example.com)", size: 18,
    title: "Sent as X-On-Behalf-Of: recorded on audit events; the approver of approvals",
    onchange: () => {
      const bad = actorProblem(actor.value);
      actor.setCustomValidity(bad || "");
      if (bad) actor.reportValidity();
      else session.setActor(actor.value);
    } });
  fill(who,
    h("span", { class: "tenant", title: "Tenant " + session.tenant }, "tenant ", session.tenant.slice(0, 8), "… · ", h("span", { id: "role" }, role() || "unknown role")),
    actor,
    h("button", { type: "button", class: "small", id: "sign-out", onclick: () => { session.clear(); forget(); navigate("/console/"); } }, "Sign out"));
}

// What is wrong with an "on behalf of" value: the header takes visible ASCII, up to 320
// characters (a browser would refuse to send other text at all).
function actorProblem(v) {
  const t = v.trim();
  if (t.length > 320) return "at most 320 characters";
  if (t && !/^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(t)) return "letters, digits and ASCII punctuation only (it is sent as a header)";
  return null;
}

// The first page of the nav the role may use (the start page after signing in).
function firstPage() {
  const first = PAGES.find((p) => p.label && can(p.path)) || PAGES[0];
  return "/console/" + first.path;
}

function signIn(main) {
  const key = h("input", { id: "key", type: "password", autocomplete: "off", required: true, placeholder: "gd_…" });
  const tenant = h("input", { id: "tenant", autocomplete: "off", required: true, placeholder: "tenant id (UUID)" });
  const actor = h("input", { id: "on-behalf-of", autocomplete: "off", placeholder: "optional: you@example.com" });
  const out = h("div", { id: "sign-in-result" });
  const form = h("form", { id: "sign-in", class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    const bad = actorProblem(actor.value);
    if (bad) {
      fill(out, errorBox({ message: "On behalf of: " + bad }));
      return;
    }
    session.save(key.value, tenant.value, actor.value);
    try {
      // The first read the key may make proves the key and tenant and names its role.
      await detectRole();
      // A shared address opened before signing in is shown once signed in.
      const here = location.pathname + location.search + location.hash;
      navigate(/^\/console\/?$/.test(location.pathname) ? firstPage() : here, true);
    } catch (err) {
      session.clear();
      forget();
      fill(out, errorBox(err));
    }
  } },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "The key and tenant stay in this tab (sessionStorage) and are sent only as request headers to this grantd."),
    field("API key", key), field("Tenant ID", tenant), field("On behalf of", actor, "Recorded as X-On-Behalf-Of; approvals are made as this person."),
    h("button", { type: "submit" }, "Sign in"), out);
  fill(main, form);
  key.focus();
}

async function route() {
  const main = document.getElementById("main");
  let rest = location.pathname.replace(/^\/console\/?/, "").replace(/\/$/, "");
  if (!session.signedIn()) {
    renderNav(null);
    renderWho();
    return signIn(main);
  }
  if (rest === "") {
    navigate(firstPage(), true);
    return;
  }
  const m = match(rest);
  renderNav(m ? (m.p.nav || m.p.path) : null);
  renderWho();
  if (!m) {
    fill(main, h("h1", {}, "Not found"), h("p", {}, "No console page at this address. "), link("/console/grants", "Grants"));
    return;
  }
  const query = new URLSearchParams(location.search);
  fill(main);
  window.scrollTo(0, 0);
  await m.p.page(main, m.params, query);
}

setRouter(route);
window.addEventListener("popstate", route);
route();
