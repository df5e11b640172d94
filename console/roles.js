// What the signed-in key's role may use. grantd has no "who am I" call, so the role is
// learned at sign-in from which reads the key may make (a refused read is not audited and
// changes nothing); the API still decides every call, and its 403 is shown as it comes.

import { api, h } from "./lib.js";

const ROLE = "grantd.role";

// Capability → roles (as the API's permission table has them).
const CAN = {
  grants: ["admin", "requester", "auditor"],
  revoke: ["admin", "requester"],
  bulk_revoke: ["admin"],
  policies: ["admin", "author", "auditor"],
  edit_policies: ["admin", "author"],
  decide: ["admin", "author", "requester"],
  audit: ["admin", "auditor"],
  approvals: ["admin", "requester"],
};

export function role() { return sessionStorage.getItem(ROLE) || ""; }

export function can(what) {
  const r = role();
  return !r || (CAN[what] || []).includes(r);
}

// The probe: the first read that succeeds names the role. Rejects with the API's error
// when the key or tenant is refused.
export async function detectRole() {
  const probes = [
    ["admin", () => api("/v1/keys")],
    ["auditor", () => api("/v1/audit-events", { query: { per_page: 1 } })],
    ["author", () => api("/v1/policies", { query: { per_page: 1 } })],
    ["requester", () => api("/v1/grants/list", { method: "POST", query: { per_page: 1 }, body: [] })],
  ];
  for (const [name, probe] of probes) {
    try {
      await probe();
      sessionStorage.setItem(ROLE, name);
      return name;
    } catch (e) {
      if (e.code !== "forbidden") throw e;
    }
  }
  sessionStorage.removeItem(ROLE);
  return "";
}

export function forget() { sessionStorage.removeItem(ROLE); }

// The message a page shows to a role that may not use it.
export function refuse(main, what) {
  const allowed = CAN[what].join(", ");
  main.append(h("div", { class: "error", role: "alert", id: "role-refused" },
    h("strong", { class: "code" }, "forbidden"), " ",
    `This page needs a key with one of the roles ${allowed}; this key's role is ${role()}.`,
    h("p", { class: "hint" }, "Sign in with another key, or ask an admin for one.")));
}
