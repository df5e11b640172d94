// Shared by every page of the console: the session (key and tenant in sessionStorage),
// the API client, DOM building that only ever makes text nodes, and formatting.
//
// Nothing here assigns HTML: elements are built with createElement and every text with
// createTextNode / textContent. The page's Content-Security-Policy requires Trusted Types
// for every HTML sink, so an innerHTML assignment would throw rather than render.

const KEY = "grantd.key";
const TENANT = "grantd.tenant";
const ACTOR = "grantd.on_behalf_of";

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ""; },
  get tenant() { return sessionStorage.getItem(TENANT) || ""; },
  get actor() { return sessionStorage.getItem(ACTOR) || ""; },
  signedIn() { return !!(this.key && this.tenant); },
  save(key, tenant, actor) {
    sessionStorage.setItem(KEY, key.trim());
    sessionStorage.setItem(TENANT, tenant.trim());
    if (actor && actor.trim()) sessionStorage.setItem(ACTOR, actor.trim());
    else sessionStorage.removeItem(ACTOR);
  },
  setActor(actor) {
    if (actor && actor.trim()) sessionStorage.setItem(ACTOR, actor.trim());
    else sessionStorage.removeItem(ACTOR);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(TENANT);
    sessionStorage.removeItem(ACTOR);
  },
};

// An error answer of the API, in its envelope.
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || "http_" + status;
    this.details = body && body.details;
    this.notices = (body && body.notices) || [];
  }
}

// One call of the /v1 API. `opts`: method, body (JSON), query (object), headers.
// Resolves to {body, headers}; rejects with ApiError.
export async function api(path, opts = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(opts.query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const headers = {
    "X-API-Key": session.key,
    "X-Tenant-ID": session.tenant,
    ...(opts.headers || {}),
  };
  if (session.actor && !headers["X-On-Behalf-Of"]) headers["X-On-Behalf-Of"] = session.actor;
  let body;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  busy(+1);
  let res;
  try {
    res = await fetch(url, { method: opts.method || "GET", headers, body, cache: "no-store", credentials: "omit" });
  } catch (e) {
    throw new ApiError(0, { code: "network", message: "grantd could not be reached: " + e.message });
  } finally {
    busy(-1);
  }
  let parsed = null;
  const text = await res.text();
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = { message: text }; }
  }
  if (!res.ok) throw new ApiError(res.status, parsed);
  return { body: parsed, headers: res.headers };
}

// The spinner in the header, shown while any call is in flight.
let inFlight = 0;
function busy(delta) {
  inFlight += delta;
  const s = document.getElementById("spinner");
  if (s) s.hidden = inFlight <= 0;
  document.body.setAttribute("aria-busy", inFlight > 0 ? "true" : "false");
}

// h("div", {class: "x", onclick: f}, "text", child, [more]) — an element. Attributes are
// set with setAttribute (never an HTML string); children that are strings become text
// nodes; null/false children are skipped; arrays are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "hidden" || k === "selected") el[k] = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Replaces an element's children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A link inside the console: navigates without reloading the page.
export function link(href, ...children) {
  return h("a", { href, onclick: (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(href);
  } }, ...children);
}

let router = null;
export function setRouter(f) { router = f; }
export function navigate(href, replace = false) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  if (router) router();
}

// The URL of a console page with a query string (empty values left out).
export function pageUrl(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return "/console/" + path + (s ? "?" + s : "");
}

// An API error as the page shows it: its code, its message, and the notices it carries.
export function errorBox(e) {
  if (!(e instanceof ApiError)) e = new ApiError(0, { code: "error", message: String(e && e.message || e) });
  let hint = null;
  if (e.code === "forbidden") hint = "Your key's role may not do this. Ask an admin for a key with the role this page needs.";
  else if (e.code === "unauthenticated") hint = "The key was refused: it is unknown, malformed or revoked. Sign in again.";
  else if (e.code === "tenant_mismatch") hint = "The key belongs to another tenant than the one entered.";
  return h("div", { class: "error", role: "alert" },
    h("strong", { class: "code" }, e.code), " ", h("span", { class: "message" }, e.message),
    hint && h("p", { class: "hint" }, hint),
    e.notices.length ? h("ul", { class: "notices" }, e.notices.map((n) => h("li", {}, n))) : null,
    e.details ? h("details", {}, h("summary", {}, "details"), h("pre", {}, JSON.stringify(e.details, null, 2))) : null);
}

// A timestamp in the viewer's zone, with the UTC value on hover.
export function when(ts) {
  if (!ts) return h("span", { class: "muted" }, "—");
  const d = new Date(ts);
  if (isNaN(d)) return h("span", {}, ts);
  const local = d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return h("time", { datetime: ts, title: ts + " (UTC)" }, local);
}

// Seconds as "2 d 3 h", "45 min", "30 s".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return "—";
  let s = Math.round(Number(seconds));
  if (!isFinite(s)) return String(seconds);
  const neg = s < 0;
  s = Math.abs(s);
  const parts = [];
  for (const [unit, n] of [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]]) {
    if (s >= n) {
      parts.push(Math.floor(s / n) + " " + unit);
      s %= n;
    }
    if (parts.length === 2) break;
  }
  return (neg ? "−" : "") + (parts.join(" ") || "0 s");
}

// "User::\"alice\"" for {type, id}.
export function uid(e) {
  if (!e) return "—";
  return `${e.type}::${JSON.stringify(e.id)}`;
}

// Parses `Type::"id"` (or `Type::id`) into {type, id}; null when it is not one.
export function parseUid(text) {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)::(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))\s*$/.exec(text || "");
  if (!m) return null;
  let id = m[3];
  if (m[2] !== undefined) {
    try { id = JSON.parse('"' + m[2] + '"'); } catch { return null; }
  }
  return { type: m[1], id };
}

export function statusBadge(status) {
  return h("span", { class: "badge status-" + String(status).toLowerCase() }, status);
}

// A table of rows; `cols`: [{title, cell(row) -> node|string}].
export function table(cols, rows, empty = "Nothing here.") {
  if (!rows.length) return h("p", { class: "muted empty" }, empty);
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c.title)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => h("td", { "data-label": c.title }, c.cell(r))))))));
}

// A section that loads: shows a spinner line, then what `load` builds, or the error.
export async function loading(container, load) {
  fill(container, h("p", { class: "loading" }, h("span", { class: "spin" }), " Loading…"));
  try {
    const node = await load();
    fill(container, node);
  } catch (e) {
    fill(container, errorBox(e));
  }
}

// The choices of a select, with `value` first when they do not hold it (a value from a
// shared address is offered as it is; the API judges it).
export function offered(choices, value) {
  return choices.includes(value) ? choices : [value, ...choices];
}

export function field(label, input, help) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), input, help ? h("small", { class: "help" }, help) : null);
}

export function pre(text, cls = "code") {
  return h("pre", { class: cls }, text || "");
}

// Copies text to the clipboard, saying so on the button.
export function copyButton(text, label = "Copy") {
  const b = h("button", { type: "button", class: "small", onclick: async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = "Copied";
    } catch {
      b.textContent = "Select and copy";
    }
    setTimeout(() => { b.textContent = label; }, 1500);
  } }, label);
  return b;
}

export function title(text) {
  document.title = text + " · grantd console";
  return h("h1", {}, text);
}
