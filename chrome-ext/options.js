// Options page: API base URL, method, number of models, order; kept in chrome.storage.sync.
// Open "Similar Models" panels listen to storage changes and re-render on their own.
"use strict";

const { DEFAULTS, K_MIN, K_MAX, SORTS, RELATIONS, normalizeApiBase, originPattern, loadSettings, encodeModelPath } =
  globalThis.HFMRS;

const form = document.getElementById("options");
const fields = {
  apiBase: document.getElementById("apiBase"),
  uiBase: document.getElementById("uiBase"),
  method: document.getElementById("method"),
  k: document.getElementById("k"),
  sort: document.getElementById("sort"),
  relation: document.getElementById("relation"),
};
const methodHint = document.getElementById("methodHint");
const statusLine = document.getElementById("status");

function option(value, label, description = "") {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = label;
  if (description) node.title = description;
  return node;
}

function say(message, kind = "") {
  statusLine.textContent = message;
  statusLine.dataset.kind = kind;
}

for (const [value, label] of Object.entries(SORTS)) fields.sort.append(option(value, label));
for (const [value, label] of Object.entries(RELATIONS)) fields.relation.append(option(value, label));

/** Fill the method list from the API at `apiBase` (the service worker falls back to cosine/jaccard). */
let methodsRequest = 0;
async function loadMethods(apiBase, selected) {
  const request = ++methodsRequest;
  const answer = await chrome.runtime.sendMessage({ type: "methods", apiBase });
  if (request !== methodsRequest) return; // a newer URL was typed meanwhile
  const methods = answer?.methods ?? [];
  const fallbackDefault = methods.find((m) => m.default)?.name;
  const nodes = [option("", fallbackDefault ? `Server default (${fallbackDefault})` : "Server default")];
  for (const m of methods) nodes.push(option(m.name, m.name, m.description));
  if (selected && !methods.some((m) => m.name === selected)) nodes.push(option(selected, `${selected} (saved)`));
  fields.method.replaceChildren(...nodes);
  fields.method.value = selected ?? "";
  methodHint.textContent = answer?.ok
    ? "Methods offered by this API."
    : "The API could not be reached: showing the usual methods.";
}

function show(settings) {
  fields.apiBase.value = settings.apiBase;
  fields.uiBase.value = settings.uiBase;
  fields.k.value = String(settings.k);
  fields.sort.value = settings.sort;
  fields.relation.value = settings.relation;
  return loadMethods(settings.apiBase, settings.method);
}

/** Drop optional host permissions for API origins that are no longer configured. */
async function pruneOrigins(keep) {
  const manifest = chrome.runtime.getManifest();
  const required = new Set([...(manifest.host_permissions ?? []), ...manifest.content_scripts.flatMap((c) => c.matches)]);
  const { origins = [] } = await chrome.permissions.getAll();
  const stale = origins.filter((o) => o !== keep && !required.has(o));
  if (stale.length) await chrome.permissions.remove({ origins: stale }).catch(() => {});
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const apiBase = normalizeApiBase(fields.apiBase.value);
  if (!apiBase) {
    say("Enter an http:// or https:// URL.", "error");
    fields.apiBase.focus();
    return;
  }
  const uiBase = normalizeApiBase(fields.uiBase.value || DEFAULTS.uiBase);
  if (!uiBase) {
    say("Enter an http:// or https:// URL for the web UI.", "error");
    fields.uiBase.focus();
    return;
  }
  const k = Number(fields.k.value);
  if (!Number.isInteger(k) || k < K_MIN || k > K_MAX) {
    say(`The number of models must be ${K_MIN} to ${K_MAX}.`, "error");
    fields.k.focus();
    return;
  }
  // Ask before any await: the browser only shows the permission prompt during the click's user gesture.
  // An origin already granted (the manifest's localhost:8000) resolves at once, without a prompt.
  const pattern = originPattern(apiBase);
  let granted = false;
  try {
    granted = await chrome.permissions.request({ origins: [pattern] });
  } catch (error) {
    say(`Cannot ask for access to ${apiBase}: ${error.message}`, "error");
    return;
  }
  if (!granted) {
    say(`Not saved: the extension needs permission to reach ${apiBase}.`, "error");
    return;
  }
  const settings = {
    apiBase,
    uiBase,
    method: fields.method.value,
    k,
    sort: fields.sort.value,
    relation: fields.relation.value,
  };
  await chrome.storage.sync.set(settings);
  await pruneOrigins(pattern);
  fields.apiBase.value = apiBase;
  say("Saved.", "ok");
});

form.addEventListener("input", () => say(""));

fields.apiBase.addEventListener("change", () => {
  const apiBase = normalizeApiBase(fields.apiBase.value);
  if (apiBase) loadMethods(apiBase, fields.method.value);
});

document.getElementById("reset").addEventListener("click", () => {
  show({ ...DEFAULTS });
  say("Defaults filled in: Save to keep them.");
});

// -- Find a model: free-text search through the service worker (GET /v1/search of the saved API) ------------
const findForm = document.getElementById("findForm");
const need = document.getElementById("need");
const findStatus = document.getElementById("findStatus");
const understoodList = document.getElementById("understood");
const foundList = document.getElementById("found");

function item(text, tag = "li") {
  const node = document.createElement(tag);
  node.textContent = text; // untrusted text from the API: never markup
  return node;
}

function foundItem(result) {
  const node = document.createElement("li");
  const link = document.createElement("a");
  link.href = `https://huggingface.co/${encodeModelPath(result.id)}`;
  link.textContent = result.id;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  node.append(link);
  if (result.why.length) node.append(item(result.why.join(" · "), "small"));
  return node;
}

findForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = need.value.trim();
  if (!q) {
    findStatus.textContent = "Describe what you need first.";
    need.focus();
    return;
  }
  findStatus.textContent = "Searching…";
  const answer = await chrome.runtime.sendMessage({ type: "search", q });
  if (!answer?.ok) {
    findStatus.textContent = answer?.message ?? "The search failed.";
    understoodList.replaceChildren();
    foundList.replaceChildren();
    return;
  }
  findStatus.textContent = answer.results.length ? `${answer.results.length} models.` : "No model fits these words.";
  understoodList.replaceChildren(...answer.understood.map((text) => item(text)));
  foundList.replaceChildren(...answer.results.map(foundItem));
});

loadSettings().then(show).then(() => document.body.setAttribute("data-ready", ""));
