// The Causeloop console: one hand-written script, no framework, no build step.
//
// Rules this file keeps (shared/api/src/console/mod.rs checks some of them):
// - Every value from the API is attacker-controlled (titles, bodies, payload excerpts) and is
//   put into the page as text: elements are built with createElement and text nodes, never by
//   parsing markup.
// - The API key lives in sessionStorage only: never in a URL, a cookie or a log. Signing out
//   removes it; a secret shown once is removed from the page when it is dismissed.
// - Only the public API is called, on this origin, with the signed-in key; what the key's scopes
//   forbid is hidden or disabled (GET /v1/keys/me says what it grants).
"use strict";

const KEY_SLOT = "causeloop.key";
const PAGE = 50;
const EVENT_TYPES = [
  "issue.ingested",
  "issue.batch_ingested",
  "issue.resolved",
  "pattern.detected",
  "pattern.recurring",
  "connector.sync.completed",
  "connector.sync.failed",
];
const SCOPES = [
  "connectors:read",
  "connectors:admin",
  "ingest:write",
  "webhooks:read",
  "webhooks:admin",
  "issues:read",
  "issues:write",
  "keys:admin",
];

const session = { key: null, me: null };

// --- DOM helpers ----------------------------------------------------------------------------

// h("a", {href: "#/x", class: "c"}, "text", child): an element; strings become text nodes.
function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "onclick" || name === "onsubmit" || name === "onchange" || name === "oninput") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

function clear(element) {
  while (element.firstChild) element.removeChild(element.firstChild);
  return element;
}

function text(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  return isNaN(date) ? String(value) : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function field(label, input) {
  const id = "f-" + Math.random().toString(36).slice(2, 10);
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

function table(headers, rows, empty) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "scroll" },
    h("table", {}, h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))), h("tbody", {}, rows)),
  );
}

function can(scope) {
  return Boolean(session.me && session.me.grants.includes(scope));
}

// --- messages -------------------------------------------------------------------------------

function showError(error) {
  const box = document.getElementById("alert");
  clear(box);
  box.className = "alert error";
  append(box, [error && error.message ? error.message : String(error)]);
  box.hidden = false;
}

// A row's action: disabled while it runs (and for good when the key may not do it); an API
// error shows in the alert box.
function actionButton(label, enabled, handler) {
  const button = h("button", { type: "button", class: "secondary", disabled: !enabled }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await handler();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = !enabled;
    }
  });
  return button;
}

function showNotice(message) {
  const box = document.getElementById("alert");
  clear(box);
  box.className = "alert notice";
  append(box, [message]);
  box.hidden = false;
}

function clearAlert() {
  const box = document.getElementById("alert");
  clear(box);
  box.hidden = true;
}

// A secret shown once: its value, a copy button, and "Done", which removes it from the page.
function secretPanel(title, secrets) {
  const panel = h("section", { class: "secret card", "aria-label": title });
  append(panel, [h("h3", {}, title), h("p", {}, "Shown once: copy it now. It cannot be shown again.")]);
  for (const [label, value] of secrets) {
    const output = h("input", { type: "text", readonly: true, spellcheck: "false", class: "secret-value" });
    output.value = value;
    const copy = h("button", { type: "button", "aria-label": "Copy " + label }, "Copy");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(output.value);
        copy.textContent = "Copied";
      } catch (_) {
        output.select();
        copy.textContent = "Press Ctrl+C";
      }
    });
    append(panel, [field(label, output), copy]);
  }
  const done = h("button", { type: "button", class: "secondary" }, "Done");
  done.addEventListener("click", () => {
    for (const input of panel.querySelectorAll("input")) input.value = "";
    panel.remove();
  });
  append(panel, [done]);
  return panel;
}

// --- the API --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? `${body.message} (${status} ${body.error})` : `The API answered ${status}.`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + session.key, Accept: "application/json" };
  const init = { method, headers, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let parsed = null;
  if (response.status !== 204) {
    try {
      parsed = await response.json();
    } catch (_) {
      parsed = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && path !== "/v1/keys/me") {
      signOut("Your key is no longer valid (revoked?). Sign in again.");
    }
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

// A paged list: renders rows page by page with a "Load more" button while there is a cursor.
function pagedList(container, load, render, headers, empty) {
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const status = h("p", { class: "loading" }, "Loading…");
  let cursor = null;
  let count = 0;
  async function next() {
    more.disabled = true;
    try {
      const page = await load(cursor);
      for (const item of page.data) body.appendChild(render(item));
      count += page.data.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.textContent = count === 0 ? empty : "";
      status.className = count === 0 ? "empty" : "loading";
    } catch (error) {
      status.textContent = "";
      showError(error);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", next);
  append(container, [
    h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))), body)),
    status,
    more,
  ]);
  return next();
}

// --- sign in and out ------------------------------------------------------------------------

async function signIn(key) {
  session.key = key;
  try {
    session.me = await api("GET", "/v1/keys/me");
  } catch (error) {
    session.key = null;
    session.me = null;
    throw error;
  }
  sessionStorage.setItem(KEY_SLOT, key);
}

function signOut(message) {
  sessionStorage.removeItem(KEY_SLOT);
  session.key = null;
  session.me = null;
  if (location.hash !== "") history.replaceState(null, "", location.pathname);
  render();
  if (message) showNotice(message);
}

function renderChrome() {
  const signedIn = Boolean(session.me);
  document.getElementById("sign-in").hidden = signedIn;
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  const who = document.getElementById("who");
  who.textContent = signedIn ? `${session.me.hint}… · ${session.me.workspace_id}` : "";
  for (const link of document.querySelectorAll("#nav a")) {
    link.hidden = !can(link.dataset.scope);
    const current = location.hash.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// --- pages ----------------------------------------------------------------------------------

const SEVERITIES = ["critical", "high", "medium", "low", "info"];

function severityBadge(severity) {
  return h("span", { class: "badge sev-" + String(severity).replace(/[^a-z0-9]/g, "") }, text(severity));
}

function statusBadge(status) {
  return h("span", { class: "badge st-" + String(status).replace(/[^a-z]/g, "") }, text(status));
}

function issueRow(issue) {
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: "#/issues/" + encodeURIComponent(issue.id) }, text(issue.title))),
    h("td", {}, statusBadge(issue.status)),
    h("td", {}, severityBadge(issue.severity)),
    h("td", {}, text(issue.source)),
    h("td", {}, text(issue.service)),
    h("td", {}, issue.pattern_id ? h("a", { href: "#/patterns/" + encodeURIComponent(issue.pattern_id) }, "Pattern") : "—"),
    h("td", {}, riskText(issue)),
    h("td", {}, when(issue.last_seen)),
  );
}

// Recurrence risk from the Issue's prediction (set once it is clustered); else how often the
// Issue came back.
function riskText(issue) {
  const p = issue.prediction;
  if (p && typeof p.recur_7d === "number" && typeof p.recur_30d === "number") {
    return `${Math.round(p.recur_7d * 100)}% in 7 d, ${Math.round(p.recur_30d * 100)}% in 30 d`;
  }
  return issue.recurrences ? `${issue.recurrences} recurrence(s)` : "—";
}

function issuesPage(view, params) {
  const status = h("select", { name: "status" }, h("option", { value: "" }, "any"), h("option", { value: "open" }, "open"), h("option", { value: "resolved" }, "resolved"));
  const severity = h("select", { name: "severity" }, h("option", { value: "" }, "any"), SEVERITIES.map((s) => h("option", { value: s }, s)));
  const source = h("input", { name: "source", type: "text" });
  const service = h("input", { name: "service", type: "text" });
  const since = h("input", { name: "since", type: "date" });
  const search = h("input", { name: "q", type: "search", placeholder: "in titles shown" });
  for (const [input, name] of [[status, "status"], [severity, "severity"], [source, "source"], [service, "service"], [since, "since"], [search, "q"]]) {
    input.value = params.get(name) || "";
  }
  const form = h(
    "form",
    { class: "filters", role: "search" },
    field("Status", status),
    field("Severity", severity),
    field("Source", source),
    field("Service", service),
    field("Since", since),
    field("Search", search),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = query({ status: status.value, severity: severity.value, source: source.value.trim(), service: service.value.trim(), since: since.value, q: search.value.trim() });
    location.hash = "#/issues" + next;
  });
  const list = h("div");
  append(view, [h("h1", {}, "Issues"), form, list]);
  const filter = {
    status: params.get("status"),
    severity: params.get("severity"),
    source: params.get("source"),
    service: params.get("service"),
    since: params.get("since") ? params.get("since") + "T00:00:00Z" : null,
  };
  const needle = (params.get("q") || "").toLowerCase();
  return pagedList(
    list,
    async (cursor) => {
      const page = await api("GET", "/v1/issues" + query({ ...filter, limit: PAGE, cursor }));
      if (needle) page.data = page.data.filter((issue) => String(issue.title).toLowerCase().includes(needle));
      return page;
    },
    issueRow,
    ["Title", "Status", "Severity", "Source", "Service", "Pattern", "Recurrence risk", "Last seen"],
    "No Issues match.",
  );
}

function definitionList(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

const ASSESSMENTS = {
  new: "new: the Pattern's first Issue",
  isolated: "isolated: seen before, never back within 30 days of a resolution",
  recurring: "recurring: it has come back within 30 days of a resolution",
  chronic: "chronic: likely to come back within 30 days",
};

function percent(value) {
  return typeof value === "number" ? Math.round(value * 100) + "%" : "—";
}

// The cluster worker's triage, as an on-call engineer reads it: what kind of problem this is,
// the fix most likely to hold, and how the Pattern's past Issues were fixed.
function triageCard(triage) {
  const fix = triage.recommended_fix;
  const pattern = triage.pattern || {};
  const recurrence = triage.recurrence || {};
  const similar = Array.isArray(triage.similar_issues) ? triage.similar_issues : [];
  return h(
    "section",
    { class: "card", "aria-label": "Triage" },
    h("h2", {}, "Triage"),
    definitionList([
      ["Assessment", text(ASSESSMENTS[triage.assessment] || triage.assessment)],
      ["Advice", text(String(triage.advice || "").replace(/_/g, " "))],
      ["Recommended fix", fix ? `${fix.fix} (held ${fix.held} of ${fix.held + fix.failed}, ${fix.resolutions} resolution(s))` : "none with a known outcome yet"],
      ["Recurrence", `${percent(recurrence.recur_7d)} within 7 days, ${percent(recurrence.recur_30d)} within 30 days`],
      ["Pattern history", `${text(pattern.issues_opened)} Issue(s), ${text(pattern.resolutions)} resolution(s), ${text(pattern.recurrences)} recurrence(s)`],
      ["Triaged", when(triage.triaged_at)],
    ]),
    h("h3", {}, "Similar past Issues"),
    table(
      ["Title", "Fix", "Fix held", "Resolved"],
      similar.map((past) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: "#/issues/" + encodeURIComponent(past.issue_id) }, text(past.title))),
          h("td", {}, text(past.fix)),
          h("td", {}, percent(past.fix_hold_rate)),
          h("td", {}, when(past.resolved_at)),
        ),
      ),
      "No resolved Issue of this Pattern yet.",
    ),
  );
}

async function issuePage(view, id) {
  const issue = await api("GET", "/v1/issues/" + encodeURIComponent(id));
  append(view, [
    h("p", {}, h("a", { href: "#/issues" }, "← Issues")),
    h("h1", { class: "title" }, text(issue.title)),
    definitionList([
      ["Status", statusBadge(issue.status)],
      ["Severity", severityBadge(issue.severity)],
      ["Source", text(issue.source)],
      ["External id", text(issue.external_id)],
      ["Service", text(issue.service)],
      ["Environment", text(issue.environment)],
      ["Team", text(issue.team)],
      ["Pattern", issue.pattern_id ? h("a", { href: "#/patterns/" + encodeURIComponent(issue.pattern_id) }, text(issue.pattern_id)) : "—"],
      ["Recurrence risk", riskText(issue)],
    ]),
  ]);
  if (issue.body) append(view, [h("h2", {}, "Body"), h("pre", { class: "body" }, issue.body)]);

  const timeline = [
    [issue.first_seen, `First seen (occurrence 1 of ${issue.occurrences})`],
    [issue.last_seen, `Last seen (${issue.occurrences} occurrence(s), ${issue.recurrences || 0} recurrence(s))`],
  ];
  const changes = Array.isArray(issue.status_changes) ? issue.status_changes : [];
  changes.forEach((change, at) => {
    if (at === 0 && change.status === "open") return; // the first sighting says it
    const what = change.status === "resolved" ? "Resolved" + (change.fix ? ": " + change.fix : "") : at === 0 ? "Opened" : "Reopened";
    timeline.push([change.at, what]);
  });
  // Issues stored before their status changes were kept show their resolution only.
  if (!changes.length && issue.resolution) timeline.push([issue.resolution.resolved_at, "Resolved" + (issue.resolution.fix ? ": " + issue.resolution.fix : "")]);
  timeline.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  append(view, [h("h2", {}, "Timeline"), h("ol", { class: "timeline" }, timeline.map(([at, what]) => h("li", {}, h("time", {}, when(at)), " ", what)))]);

  if (issue.triage) append(view, [triageCard(issue.triage)]);
  if (issue.pattern_id) {
    const fixes = h("div", { class: "card" }, h("h2", {}, "Recommended fixes"), h("p", { class: "hint" }, "Loading…"));
    append(view, [fixes]);
    api("GET", `/v1/issues/${encodeURIComponent(issue.id)}/recommendations`).then((answer) => {
      const data = (answer && answer.data) || [];
      fixes.lastChild.remove();
      if (!data.length) {
        append(fixes, [h("p", { class: "hint" }, "No fix of this Pattern has been recorded yet.")]);
        return;
      }
      append(fixes, [h("ol", {}, data.map((fix) => h("li", {},
        text(fix.fix),
        typeof fix.hold_rate === "number"
          ? ` — held ${fix.held} of ${fix.held + fix.failed} (${Math.round(fix.hold_rate * 100)}%), ${fix.resolutions} resolution(s)`
          : ` — ${fix.resolutions} resolution(s), outcome pending`)))]);
    }).catch((error) => {
      fixes.lastChild.remove();
      append(fixes, [h("p", { class: "hint" }, error && error.message ? error.message : String(error))]);
    });
  }

  if (issue.status !== "resolved") {
    const fix = h("input", { type: "text", name: "fix", maxlength: "4000" });
    const button = h("button", { type: "submit", disabled: !can("issues:write") }, "Resolve");
    const form = h("form", { class: "card inline" }, h("h2", {}, "Resolve"), field("Fix", fix), button);
    if (!can("issues:write")) append(form, [h("p", { class: "hint" }, "Resolving needs the issues:write scope.")]);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        const resolution = fix.value.trim() ? { fix: fix.value.trim() } : {};
        await api("PATCH", "/v1/issues/" + encodeURIComponent(issue.id), { status: "resolved", resolution });
        showNotice("Resolved.");
        render();
      } catch (error) {
        showError(error);
        button.disabled = false;
      }
    });
    append(view, [form]);
  } else if (issue.resolution) {
    append(view, [h("h2", {}, "Resolution"), definitionList([["Fix", text(issue.resolution.fix)], ["Resolved at", when(issue.resolution.resolved_at)]])]);
  }

  if (issue.pattern_id) {
    const similar = h("div");
    append(view, [h("h2", {}, "Similar Issues"), similar]);
    const page = await api("GET", `/v1/patterns/${encodeURIComponent(issue.pattern_id)}/issues` + query({ limit: 20 }));
    const others = page.data.filter((other) => other.id !== issue.id);
    append(similar, [table(["Title", "Status", "Severity", "Source", "Service", "Pattern", "Recurrence risk", "Last seen"], others.map(issueRow), "No other Issue shares its Pattern.")]);
  }
}

// A template such as "disk full on <PATH>": typed slots set apart, all as text.
function templateText(template) {
  const out = h("code", { class: "template" });
  for (const part of String(template).split(/(<[A-Z_0-9]+>)/)) {
    if (!part) continue;
    append(out, [/^<[A-Z_0-9]+>$/.test(part) ? h("span", { class: "slot" }, part) : part]);
  }
  return out;
}

// An endpoint's state as the delivery worker sees it: disabled (and why), paused by its circuit
// breaker, failing, or enabled.
function endpointState(webhook) {
  if (!webhook.enabled) return "disabled" + (webhook.disabled_reason ? " (" + webhook.disabled_reason + ")" : "");
  if (webhook.circuit_open_until) return "paused until " + when(webhook.circuit_open_until) + ": its last attempts failed";
  if (webhook.failing_since) return "failing since " + when(webhook.failing_since);
  return "enabled";
}

function patternsPage(view, params) {
  const sort = h(
    "select",
    { name: "sort" },
    h("option", { value: "last_seen" }, "latest activity"),
    h("option", { value: "count" }, "Issue count"),
    h("option", { value: "risk" }, "recurrence risk"),
  );
  sort.value = params.get("sort") || "last_seen";
  sort.addEventListener("change", () => {
    location.hash = "#/patterns" + query({ sort: sort.value });
  });
  const list = h("div");
  append(view, [h("h1", {}, "Patterns"), h("div", { class: "filters" }, field("Sort by", sort)), list]);
  return pagedList(
    list,
    (cursor) => api("GET", "/v1/patterns" + query({ sort: sort.value, limit: PAGE, cursor })),
    (pattern) =>
      h(
        "tr",
        {},
        h("td", {}, h("a", { href: "#/patterns/" + encodeURIComponent(pattern.id) }, templateText(pattern.template))),
        h("td", {}, text(pattern.issue_count)),
        h("td", {}, text((pattern.services || []).join(", "))),
        h("td", {}, text((pattern.sources || []).join(", "))),
        h("td", {}, text(pattern.recurrences)),
        h("td", {}, riskText({ prediction: pattern.recurrence_risk })),
        h("td", {}, when(pattern.last_seen)),
      ),
    ["Template", "Issues", "Services", "Sources", "Recurrences", "Recurrence risk", "Last seen"],
    "No Patterns yet: they form as Issues arrive.",
  );
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  append(element, children);
  return element;
}

// Issues per day, as bars: built from DOM nodes, with a text summary for screen readers.
function issuesChart(issues) {
  const counts = new Map();
  for (const issue of issues) {
    const day = String(issue.first_seen || "").slice(0, 10);
    if (day) counts.set(day, (counts.get(day) || 0) + 1);
  }
  const days = [...counts.keys()].sort();
  if (days.length === 0) return h("p", { class: "empty" }, "No Issues to chart.");
  const width = 640;
  const height = 180;
  const pad = 28;
  const max = Math.max(...counts.values());
  const slot = (width - pad * 2) / days.length;
  const bar = Math.max(2, Math.min(40, slot * 0.7));
  const label = `Issues per day: ${days.map((d) => `${d}: ${counts.get(d)}`).join(", ")}`;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart", "aria-label": label });
  append(chart, [svg("title", {}, label), svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" })]);
  days.forEach((day, index) => {
    const value = counts.get(day);
    const barHeight = ((height - pad * 2) * value) / max;
    const x = pad + index * slot + (slot - bar) / 2;
    append(chart, [
      svg("rect", { x, y: height - pad - barHeight, width: bar, height: barHeight, class: "bar" }, svg("title", {}, `${day}: ${value}`)),
      svg("text", { x: x + bar / 2, y: height - pad - barHeight - 4, "text-anchor": "middle", class: "value" }, String(value)),
    ]);
    if (index === 0 || index === days.length - 1) {
      append(chart, [svg("text", { x: x + bar / 2, y: height - 8, "text-anchor": "middle", class: "tick" }, day)]);
    }
  });
  return chart;
}

async function patternPage(view, id) {
  const pattern = await api("GET", "/v1/patterns/" + encodeURIComponent(id));
  const members = [];
  let cursor = null;
  // The chart's data: the Pattern's Issues, up to a bound so one page view stays cheap.
  for (let page = 0; page < 5; page += 1) {
    const answer = await api("GET", `/v1/patterns/${encodeURIComponent(pattern.id)}/issues` + query({ limit: 200, cursor }));
    members.push(...answer.data);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  append(view, [
    h("p", {}, h("a", { href: "#/patterns" }, "← Patterns")),
    h("h1", {}, "Pattern"),
    h("p", {}, templateText(pattern.template)),
    definitionList([
      ["Issues", text(pattern.issue_count)],
      ["Services", text((pattern.services || []).join(", "))],
      ["Sources", text((pattern.sources || []).join(", "))],
      ["Recurrences", text(pattern.recurrences)],
      ["First seen", when(pattern.first_seen)],
      ["Last seen", when(pattern.last_seen)],
    ]),
    h("h2", {}, "Issues over time"),
    issuesChart(members),
    h("h2", {}, "Issues"),
    table(["Title", "Status", "Severity", "Source", "Service", "Pattern", "Recurrence risk", "Last seen"], members.map(issueRow), "No Issues."),
    cursor ? h("p", { class: "hint" }, `Showing the first ${members.length} Issues.`) : null,
  ]);
}

// --- integrations ---------------------------------------------------------------------------

function inboundUrl(connectorId) {
  return location.origin + "/v1/webhooks/inbound/" + connectorId;
}

// What a sync run did, in one line ("" for history entries that are not syncs).
function syncProgress(run) {
  if (!run) return "";
  return `${run.mode}: ${run.pages} page(s), ${run.records_seen} record(s); ${run.issues_created} created, ${run.issues_updated} updated, ${run.issues_resolved} resolved`;
}

async function integrationsPage(view) {
  const [catalog, connectors, health] = await Promise.all([
    api("GET", "/v1/connector-catalog"),
    api("GET", "/v1/connectors" + query({ limit: 200 })),
    api("GET", "/v1/integrations/health"),
  ]);
  const healthOf = new Map(health.connectors.map((entry) => [entry.id, entry]));
  const admin = can("connectors:admin");
  const secrets = h("div");
  append(view, [h("h1", {}, "Integrations"), secrets]);

  // Connected sources, each with its actions.
  const typeOf = new Map(catalog.data.map((entry) => [entry.type, entry]));
  const rows = connectors.data.map((connector) => {
    const actions = h("td", { class: "actions" });
    const details = h("td", { class: "details" });
    const entry = typeOf.get(connector.type);
    const polls = Boolean(entry && entry.capabilities.poll);
    append(actions, [
      actionButton("Test", admin, async () => {
        const result = await api("POST", `/v1/connectors/${connector.id}/test`);
        const outcome = `Test ${result.success ? "passed" : "failed"}: ${text(result.message)}`;
        if (result.success) showNotice(outcome);
        else showError(outcome);
      }),
    ]);
    if (polls) {
      if (entry.auth_kinds.includes("oauth2")) {
        // The vendor's consent page, then back to /v1/oauth/callback, which starts the first sync.
        append(actions, [
          actionButton(connector.oauth_connected ? "Authorize again" : "Authorize", admin, async () => {
            const started = await api("POST", `/v1/connectors/${connector.id}/oauth/start`);
            location.assign(started.authorize_url);
          }),
        ]);
      }
      const since = h("input", { type: "date", name: "since" });
      append(actions, [
        actionButton("Sync now", admin, async () => {
          const started = await api("POST", `/v1/connectors/${connector.id}/sync`, { mode: "incremental" });
          showNotice(`Sync ${started.sync_id} started (${started.mode}).`);
        }),
        field("Backfill since", since),
        actionButton("Backfill", admin, async () => {
          const body = { mode: "backfill" };
          if (since.value) body.since = since.value + "T00:00:00Z";
          const started = await api("POST", `/v1/connectors/${connector.id}/sync`, body);
          showNotice(`Backfill ${started.sync_id} started.`);
        }),
      ]);
    }
    append(actions, [
      actionButton("Sync history", true, async () => {
        const history = await api("GET", `/v1/connectors/${connector.id}/syncs` + query({ limit: 20 }));
        clear(details);
        append(details, [
          table(
            ["At", "Kind", "Outcome", "Progress", "Issue", "Error"],
            history.data.map((sync) => h("tr", {}, h("td", {}, when(sync.at)), h("td", {}, text(sync.kind)), h("td", {}, text(sync.outcome)), h("td", {}, syncProgress(sync.sync)), h("td", {}, text(sync.issue_id)), h("td", {}, text(sync.error)))),
            "No syncs or deliveries yet.",
          ),
        ]);
      }),
    ]);
    if (connector.type === "custom_api") {
      if (connector.inbound_webhook_id) {
        append(details, [h("p", {}, "Inbound webhook URL: ", h("code", {}, inboundUrl(connector.id)))]);
        append(actions, [
          actionButton("Rotate secret", admin || can("webhooks:admin"), async () => {
            const rotated = await api("POST", `/v1/webhooks/${connector.inbound_webhook_id}/rotate`, {});
            clear(secrets);
            append(secrets, [secretPanel(`New signing secret of ${connector.display_name}`, [["Signing secret", rotated.signing_secret]])]);
            const hours = Math.round(rotated.grace_period_seconds / 3600);
            showNotice(`Secret rotated; the previous one keeps verifying for ${hours} h.`);
          }),
        ]);
      } else {
        append(actions, [
          actionButton("Register inbound webhook", can("webhooks:admin"), async () => {
            const registered = await api("POST", "/v1/webhooks", { url: inboundUrl(connector.id), connector_id: connector.id });
            render();
            await whenRendered();
            append(document.getElementById("secrets-slot") || secrets, [
              secretPanel(`Inbound webhook of ${connector.display_name}`, [
                ["Webhook URL", inboundUrl(connector.id)],
                ["Signing secret", registered.signing_secret],
              ]),
            ]);
          }),
        ]);
      }
    }
    const seen = healthOf.get(connector.id);
    let healthCell = seen
      ? `${seen.events_24h} event(s), ${seen.errors_24h} error(s) in 24 h; last ${when(seen.last_event_at)}${seen.last_error ? " — " + seen.last_error : ""}`
      : "—";
    const lastSync = connector.sync && connector.sync.last_sync;
    if (lastSync) healthCell += `; last sync ${lastSync.status} (${syncProgress(lastSync)})`;
    return h(
      "tr",
      {},
      h("td", {}, text(connector.display_name)),
      h("td", {}, text(connector.type)),
      h("td", {}, statusBadge(connector.status)),
      h("td", {}, connector.enabled ? "yes" : "no"),
      h("td", {}, healthCell),
      actions,
      details,
    );
  });
  secrets.id = "secrets-slot";
  append(view, [h("h2", {}, "Connected sources"), table(["Name", "Type", "Status", "Enabled", "Health", "Actions", "Details"], rows, "No connectors yet.")]);

  // Connecting a source: the catalog entry's fields, as a form.
  if (admin) {
    const available = catalog.data.filter((entry) => entry.available);
    const type = h("select", { name: "type" }, available.map((entry) => h("option", { value: entry.type }, entry.display_name)));
    const name = h("input", { type: "text", name: "display_name", required: true, maxlength: "200" });
    const fields = h("div");
    const inputs = new Map();
    const drawFields = () => {
      clear(fields);
      inputs.clear();
      const entry = available.find((candidate) => candidate.type === type.value);
      if (!entry) return;
      // A type with OAuth may be created without credentials, then authorized from its row.
      const oauth = entry.auth_kinds.includes("oauth2");
      if (oauth) append(fields, [h("p", { class: "hint" }, "Leave the credentials empty to authorize through OAuth after creating it.")]);
      for (const spec of entry.credential_fields) {
        const input = h("input", { type: "password", autocomplete: "off", required: spec.required && !oauth });
        inputs.set("credentials." + spec.name, [spec, input]);
        append(fields, [field(`${spec.name} (credential)`, input)]);
      }
      for (const spec of entry.config_fields) {
        if (spec.kind === "field_mapping") continue;
        const input = spec.kind === "minutes"
          ? h("input", { type: "number", min: "1", max: "1440", step: "1", required: spec.required })
          : h("input", { type: "text", required: spec.required, placeholder: spec.kind === "string_list" ? "comma-separated" : "" });
        inputs.set("config." + spec.name, [spec, input]);
        append(fields, [field(spec.name, input)]);
      }
    };
    type.addEventListener("change", drawFields);
    drawFields();
    const button = h("button", { type: "submit" }, "Create connector");
    const form = h("form", { class: "card" }, h("h2", {}, "Connect a source"), field("Type", type), field("Display name", name), fields, button);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { type: type.value, display_name: name.value.trim(), credentials: {}, config: {} };
      for (const [key, [spec, input]] of inputs) {
        const value = input.value.trim();
        if (!value) continue;
        const [group, fieldName] = key.split(".");
        body[group][fieldName] =
          spec.kind === "string_list" ? value.split(",").map((item) => item.trim()).filter(Boolean)
          : spec.kind === "minutes" ? Number(value)
          : value;
      }
      button.disabled = true;
      try {
        await api("POST", "/v1/connectors", body);
        showNotice("Connector created.");
        render();
      } catch (error) {
        showError(error);
        button.disabled = false;
      }
    });
    append(view, [form]);
  }

  append(view, [
    h("h2", {}, "Catalog"),
    table(
      ["Type", "Name", "Description", "Push", "Poll", "Available"],
      catalog.data.map((entry) =>
        h(
          "tr",
          {},
          h("td", {}, h("code", {}, text(entry.type))),
          h("td", {}, text(entry.display_name)),
          h("td", {}, text(entry.description)),
          h("td", {}, entry.capabilities.push ? "yes" : "no"),
          h("td", {}, entry.capabilities.poll ? "yes" : "no"),
          h("td", {}, entry.available ? "yes" : text(entry.unavailable_reason)),
        ),
      ),
      "The catalog is empty.",
    ),
  ]);
}

// --- webhooks -------------------------------------------------------------------------------

async function webhooksPage(view) {
  const admin = can("webhooks:admin");
  const all = await api("GET", "/v1/webhooks" + query({ limit: 200 }));
  const endpoints = all.data.filter((webhook) => webhook.direction === "outbound");
  const secrets = h("div");
  const deliveries = h("div", { class: "deliveries" });
  const editor = h("div");
  append(view, [h("h1", {}, "Webhooks"), secrets]);

  if (admin) {
    const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://hooks.example.com/causeloop" });
    const boxes = EVENT_TYPES.map((name) => {
      const box = h("input", { type: "checkbox", name: "event_types", value: name, checked: name === "issue.ingested" });
      return [name, box];
    });
    const button = h("button", { type: "submit" }, "Add endpoint");
    const form = h(
      "form",
      { class: "card" },
      h("h2", {}, "Add endpoint"),
      field("URL", url),
      h("fieldset", {}, h("legend", {}, "Event types"), boxes.map(([name, box]) => h("label", { class: "check" }, box, " ", name))),
      button,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const types = boxes.filter(([, box]) => box.checked).map(([name]) => name);
      button.disabled = true;
      try {
        const created = await api("POST", "/v1/webhooks", { url: url.value.trim(), event_types: types });
        await render();
        append(document.getElementById("webhook-secrets"), [secretPanel(`Signing secret of ${created.url}`, [["Signing secret", created.signing_secret]])]);
      } catch (error) {
        showError(error);
        button.disabled = false;
      }
    });
    append(view, [form]);
  }
  secrets.id = "webhook-secrets";

  const rows = endpoints.map((webhook) => {
    return h(
      "tr",
      {},
      h("td", {}, h("code", {}, text(webhook.url))),
      h("td", {}, text((webhook.event_types || []).join(", "))),
      h("td", {}, endpointState(webhook)),
      h(
        "td",
        { class: "actions" },
        actionButton("Send test", admin, async () => {
          await api("POST", `/v1/webhooks/${webhook.id}/test`);
          showNotice("Test ping queued.");
          await showDeliveries(deliveries, webhook);
        }),
        actionButton("Deliveries", true, () => showDeliveries(deliveries, webhook)),
        actionButton("Rotate secret", admin, async () => {
          const rotated = await api("POST", `/v1/webhooks/${webhook.id}/rotate`, {});
          clear(secrets);
          append(secrets, [secretPanel(`New signing secret of ${webhook.url}`, [["Signing secret", rotated.signing_secret]])]);
        }),
        actionButton("Edit", admin, async () => {
          clear(editor);
          append(editor, [endpointEditor(webhook)]);
          editor.querySelector("input").focus();
        }),
        actionButton(webhook.enabled ? "Disable" : "Enable", admin, async () => {
          await api("PATCH", `/v1/webhooks/${webhook.id}`, { enabled: !webhook.enabled });
          render();
        }),
        actionButton("Delete", admin, async () => {
          await api("DELETE", `/v1/webhooks/${webhook.id}`);
          render();
        }),
      ),
    );
  });
  append(view, [h("h2", {}, "Endpoints"), table(["URL", "Event types", "State", "Actions"], rows, "No outbound endpoints yet."), editor, deliveries]);
}

// Editing an endpoint: its URL (guarded by the API as at registration) and event types.
function endpointEditor(webhook) {
  const url = h("input", { type: "url", required: true });
  url.value = webhook.url;
  const boxes = EVENT_TYPES.map((name) => [name, h("input", { type: "checkbox", value: name, checked: (webhook.event_types || []).includes(name) })]);
  const save = h("button", { type: "submit" }, "Save endpoint");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const form = h(
    "form",
    { class: "card", "aria-label": "Edit endpoint" },
    h("h2", {}, "Edit endpoint"),
    field("Endpoint URL", url),
    h("fieldset", {}, h("legend", {}, "Event types"), boxes.map(([name, box]) => h("label", { class: "check" }, box, " ", name))),
    save,
    cancel,
  );
  cancel.addEventListener("click", () => form.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      const event_types = boxes.filter(([, box]) => box.checked).map(([name]) => name);
      await api("PATCH", `/v1/webhooks/${webhook.id}`, { url: url.value.trim(), event_types });
      showNotice("Endpoint saved.");
      render();
    } catch (error) {
      showError(error);
      save.disabled = false;
    }
  });
  return form;
}

async function showDeliveries(container, webhook) {
  clear(container);
  append(container, [h("h2", {}, "Deliveries to ", h("code", {}, text(webhook.url)))]);
  const admin = can("webhooks:admin");
  const refresh = h("button", { type: "button", class: "secondary" }, "Refresh");
  refresh.addEventListener("click", () => showDeliveries(container, webhook));
  append(container, [refresh]);
  await pagedList(
    container,
    (cursor) => api("GET", `/v1/webhooks/${webhook.id}/deliveries` + query({ limit: PAGE, cursor })),
    (delivery) => {
      const last = (delivery.attempts || [])[0] || {};
      const redeliver = h("button", { type: "button", class: "secondary", disabled: !admin }, "Redeliver");
      redeliver.addEventListener("click", async () => {
        redeliver.disabled = true;
        try {
          await api("POST", `/v1/webhooks/${webhook.id}/deliveries/${delivery.id}/redeliver`);
          showNotice("Redelivery queued.");
          await showDeliveries(container, webhook);
        } catch (error) {
          showError(error);
          redeliver.disabled = !admin;
        }
      });
      return h(
        "tr",
        {},
        h("td", {}, when(delivery.created_at)),
        h("td", {}, text(delivery.event_type)),
        h("td", {}, statusBadge(delivery.status)),
        h("td", {}, text(delivery.attempts_made)),
        h("td", {}, text(last.status_code)),
        h("td", {}, last.latency_ms === undefined ? "—" : `${last.latency_ms} ms`),
        h("td", {}, h("code", { class: "excerpt" }, text(last.response_excerpt || last.error))),
        h("td", {}, redeliver),
      );
    },
    ["Created", "Event", "Status", "Attempts", "Last status", "Latency", "Response", ""],
    "No deliveries yet.",
  );
}

// --- API keys -------------------------------------------------------------------------------

async function keysPage(view) {
  const secrets = h("div");
  const boxes = SCOPES.map((scope) => [scope, h("input", { type: "checkbox", name: "scopes", value: scope, disabled: !can(scope) })]);
  const button = h("button", { type: "submit" }, "Create key");
  const form = h(
    "form",
    { class: "card" },
    h("h2", {}, "Create key"),
    h("fieldset", {}, h("legend", {}, "Scopes"), boxes.map(([scope, box]) => h("label", { class: "check" }, box, " ", scope))),
    h("p", { class: "hint" }, "A key can grant only the scopes the signed-in key holds."),
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = boxes.filter(([, box]) => box.checked).map(([scope]) => scope);
    if (scopes.length === 0) return showError("Choose at least one scope.");
    button.disabled = true;
    try {
      const created = await api("POST", "/v1/keys", { scopes });
      await render();
      append(document.getElementById("key-secrets"), [
        secretPanel(`New key ${created.id}`, [
          ["API key", created.key],
          ["Webhook secret", created.webhook_secret],
        ]),
      ]);
    } catch (error) {
      showError(error);
      button.disabled = false;
    }
  });
  secrets.id = "key-secrets";
  const list = h("div");
  append(view, [h("h1", {}, "API keys"), secrets, form, h("h2", {}, "Keys"), list]);
  await pagedList(
    list,
    (cursor) => api("GET", "/v1/keys" + query({ limit: PAGE, cursor })),
    (key) => {
      const revoke = h("button", { type: "button", class: "danger" }, "Revoke");
      let armed = false;
      revoke.addEventListener("click", async () => {
        if (!armed) {
          armed = true;
          revoke.textContent = "Confirm revoke";
          return;
        }
        revoke.disabled = true;
        try {
          await api("DELETE", "/v1/keys/" + encodeURIComponent(key.id));
          showNotice(`Key ${key.id} revoked.`);
          render();
        } catch (error) {
          showError(error);
          revoke.disabled = false;
        }
      });
      return h(
        "tr",
        { "data-key-id": key.id },
        h("td", {}, h("code", {}, text(key.id)), key.id === session.me.id ? " (this key)" : ""),
        h("td", {}, h("code", {}, `${key.hint}…`)),
        h("td", {}, text(key.scopes.join(", "))),
        h("td", {}, when(key.created_at)),
        h("td", {}, key.revoked_at ? "revoked " + when(key.revoked_at) : "live"),
        // The API refuses a key's revocation of itself; sign in with another key to revoke it.
        h("td", {}, key.revoked_at || key.id === session.me.id ? "" : revoke),
      );
    },
    ["Id", "Hint", "Scopes", "Created", "State", ""],
    "No keys.",
  );
}

// --- routing --------------------------------------------------------------------------------

let rendering = Promise.resolve();

function whenRendered() {
  return rendering;
}

function route() {
  const [path, search] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(search || "") };
}

function firstAllowedPage() {
  for (const link of document.querySelectorAll("#nav a")) if (can(link.dataset.scope)) return link.getAttribute("href");
  return "#/keys";
}

function render() {
  rendering = draw();
  return rendering;
}

async function draw() {
  renderChrome();
  // Each drawing fills a container of its own: when the hash changes again before a page has
  // loaded, the older drawing goes on into a container that is no longer on the page.
  const view = h("div");
  clear(document.getElementById("view")).appendChild(view);
  if (!session.me) {
    document.getElementById("api-key").focus();
    return;
  }
  const { parts, params } = route();
  const pages = {
    issues: () => (parts[1] ? issuePage(view, parts[1]) : issuesPage(view, params)),
    patterns: () => (parts[1] ? patternPage(view, parts[1]) : patternsPage(view, params)),
    integrations: () => integrationsPage(view),
    webhooks: () => webhooksPage(view),
    keys: () => keysPage(view),
  };
  const page = pages[parts[0]];
  if (!page) {
    location.replace(firstAllowedPage());
    return;
  }
  const loading = h("p", { class: "loading" }, "Loading…");
  const holder = document.getElementById("view");
  holder.appendChild(loading);
  holder.setAttribute("aria-busy", "true");
  try {
    await page();
  } catch (error) {
    showError(error);
  } finally {
    loading.remove();
    holder.removeAttribute("aria-busy");
  }
}

window.addEventListener("hashchange", () => {
  clearAlert();
  render();
});

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("api-key");
    const key = input.value.trim();
    try {
      await signIn(key);
      input.value = "";
      clearAlert();
      if (!location.hash) location.replace(firstAllowedPage());
      render();
    } catch (error) {
      showError(error.status === 401 ? "That key is not valid (unknown, revoked or mistyped)." : error);
    }
  });
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
  const stored = sessionStorage.getItem(KEY_SLOT);
  if (stored) {
    try {
      await signIn(stored);
    } catch (_) {
      sessionStorage.removeItem(KEY_SLOT);
    }
  }
  render();
});
