// Service worker: the only place that talks to the HFMRS API.  Requests leave from here (not from the
// page) so the extension's host permissions govern access, not the page's CORS, and the page never sees them.
"use strict";

importScripts("common.js");

const { loadSettings, encodeModelPath, normalizeApiBase, originPattern, FALLBACK_METHODS } = self.HFMRS;
const TIMEOUT_MS = 8000;

/** GET a JSON document; resolves to {status, body} or throws on network failure or timeout. */
async function getJson(url) {
  const response = await fetch(url, {
    headers: { Accept: "application/json" },
    credentials: "omit",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: handled by the callers as an unexpected answer
  }
  return { status: response.status, body };
}

function apiMessage(body, fallback) {
  const message = body?.error?.message;
  return (typeof message === "string" && message ? message : fallback).slice(0, 300);
}

/** Keep only the fields the panel shows, with the types it expects: the answer is untrusted. */
function cleanResult(r) {
  return {
    id: r.id.slice(0, 200),
    score: Number.isFinite(r.score) ? r.score : null,
    match: Number.isFinite(r.match) ? Math.max(0, Math.min(100, Math.round(r.match))) : null,
    downloads: Number.isFinite(r.downloads) ? r.downloads : null,
    why: Array.isArray(r.why) ? r.why.filter((w) => typeof w === "string").slice(0, 5).map((w) => w.slice(0, 80)) : [],
    relation: r.relation === "family" || r.relation === "alternative" ? r.relation : null,
    variants: Array.isArray(r.variants) ? r.variants.filter((v) => typeof v === "string").slice(0, 20) : [],
  };
}

async function similar(modelId) {
  const settings = await loadSettings();
  const apiBase = settings.apiBase;
  const url = new URL(`${apiBase}/v1/models/${encodeModelPath(modelId)}/similar`);
  url.searchParams.set("k", String(settings.k));
  url.searchParams.set("sort", settings.sort);
  if (settings.relation !== "all") url.searchParams.set("relation", settings.relation);
  if (settings.method) url.searchParams.set("method", settings.method);

  const permitted = await chrome.permissions.contains({ origins: [originPattern(apiBase)] });
  if (!permitted) {
    return { ok: false, kind: "permission", apiBase, message: `No permission to reach ${apiBase}.` };
  }
  let answer;
  try {
    answer = await getJson(url);
  } catch {
    return { ok: false, kind: "unreachable", apiBase, message: `Cannot reach the HFMRS API at ${apiBase}.` };
  }
  const { status, body } = answer;
  if (status === 404 && body?.error?.code === "unknown_model") {
    return { ok: false, kind: "not_found", apiBase, message: "This model is not in the HFMRS catalog." };
  }
  if (status !== 200) {
    return { ok: false, kind: "error", apiBase, message: apiMessage(body, `The HFMRS API answered ${status}.`) };
  }
  if (!Array.isArray(body?.results)) {
    return { ok: false, kind: "error", apiBase, message: `${apiBase} did not answer like an HFMRS API.` };
  }
  return {
    ok: true,
    apiBase,
    uiBase: settings.uiBase,
    query: typeof body.query === "string" ? body.query : modelId,
    method: typeof body.method === "string" ? body.method.slice(0, 50) : "",
    results: body.results.filter((r) => typeof r?.id === "string" && r.id).map(cleanResult),
  };
}

/** What the API read a need to ask for, as short "key: value" texts (the answer is untrusted). */
function cleanUnderstood(understood) {
  if (!understood || typeof understood !== "object" || Array.isArray(understood)) return [];
  return Object.entries(understood)
    .slice(0, 12)
    .map(([key, value]) => `${String(key).slice(0, 40)}: ${(Array.isArray(value) ? value.join(", ") : String(value)).slice(0, 80)}`);
}

/** Free-text search ("which model fits my need?") with the saved API and number of models. */
async function search(q) {
  const settings = await loadSettings();
  const apiBase = settings.apiBase;
  const url = new URL(`${apiBase}/v1/search`);
  url.searchParams.set("q", q.slice(0, 1000));
  url.searchParams.set("k", String(settings.k));
  const permitted = await chrome.permissions.contains({ origins: [originPattern(apiBase)] });
  if (!permitted) return { ok: false, apiBase, message: `No permission to reach ${apiBase}: save the options first.` };
  let answer;
  try {
    answer = await getJson(url);
  } catch {
    return { ok: false, apiBase, message: `Cannot reach the HFMRS API at ${apiBase}.` };
  }
  const { status, body } = answer;
  if (status !== 200 || !Array.isArray(body?.results)) {
    return { ok: false, apiBase, message: apiMessage(body, `The HFMRS API answered ${status}.`) };
  }
  return {
    ok: true,
    apiBase,
    understood: cleanUnderstood(body.understood),
    results: body.results.filter((r) => typeof r?.id === "string" && r.id).map(cleanResult),
  };
}

/** The methods the API offers (for the options page), or a fallback list when it is unreachable. */
async function methods(value) {
  const apiBase = normalizeApiBase(value);
  if (!apiBase) return { ok: false, methods: FALLBACK_METHODS };
  try {
    const { status, body } = await getJson(`${apiBase}/v1/methods`);
    if (status === 200 && Array.isArray(body)) {
      const list = body
        .filter((m) => typeof m?.name === "string" && /^[\w-]{1,50}$/.test(m.name))
        .map((m) => ({
          name: m.name,
          description: typeof m.description === "string" ? m.description.slice(0, 200) : "",
          default: m.default === true,
        }));
      if (list.length) return { ok: true, methods: list };
    }
  } catch {
    // unreachable: fall through
  }
  return { ok: false, methods: FALLBACK_METHODS };
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id) return false;
  switch (message?.type) {
    case "similar":
      if (typeof message.id !== "string" || !message.id) return false;
      similar(message.id).then(sendResponse, (error) =>
        sendResponse({ ok: false, kind: "error", message: String(error?.message ?? error).slice(0, 300) }),
      );
      return true; // answer asynchronously
    case "methods":
      methods(String(message.apiBase ?? "")).then(sendResponse);
      return true;
    case "search":
      if (typeof message.q !== "string" || !message.q.trim()) return false;
      search(message.q.trim()).then(sendResponse, (error) =>
        sendResponse({ ok: false, message: String(error?.message ?? error).slice(0, 300) }),
      );
      return true;
    case "openOptions":
      chrome.runtime.openOptionsPage();
      return false;
    default:
      return false;
  }
});

// The toolbar button opens the options page.
chrome.action.onClicked.addListener(() => chrome.runtime.openOptionsPage());
