// Shared by the content script, the service worker (importScripts) and the options page.
// A classic script (content scripts cannot be modules): it defines one global, HFMRS.
"use strict";

(() => {
  const DEFAULTS = Object.freeze({
    apiBase: "http://localhost:8000",
    uiBase: "http://localhost:7860", // the web UI, for the panel's "more on HFMRS" link
    method: "", // "" = the server's default method
    k: 10,
    sort: "score",
    relation: "all",
  });
  const K_MIN = 5;
  const K_MAX = 30;
  const SORTS = Object.freeze({
    score: "Similarity score",
    "downloads-desc": "Most downloaded first",
    "downloads-asc": "Least downloaded first",
    likes: "Most liked first",
    recent: "Recently updated first",
    trending: "Trending first",
    leaderboard: "Best leaderboard score first (LLMs)",
  });
  const RELATIONS = Object.freeze({
    all: "Family and alternatives",
    family: "Family only (base, fine-tunes, sizes, copies)",
    alternatives: "Alternatives only (other models for the job)",
  });
  const FALLBACK_METHODS = Object.freeze([
    { name: "cosine", description: "Cosine similarity of embeddings", default: true },
    { name: "jaccard", description: "Jaccard similarity of tags", default: false },
  ]);

  // First path segments of huggingface.co that are never a model namespace.
  const RESERVED = new Set([
    "academia", "api", "assets", "billing", "blog", "brand", "careers", "changelog", "chat", "code-of-conduct",
    "collections", "content-guidelines", "datasets", "docs", "enterprise", "front", "hardware", "huggingchat",
    "inference", "inference-endpoints", "join", "languages", "learn", "leaderboards", "libraries", "login",
    "logout", "models", "new", "new-collection", "new-dataset", "new-space", "notifications", "oauth",
    "organizations", "papers", "posts", "pricing", "privacy", "pro", "search", "settings", "sitemap", "spaces",
    "static", "storage", "tasks", "terms-of-service", "welcome",
  ]);
  // Sub-pages of a repository: /<id>/tree/main, /<id>/discussions/12, ...
  const SUBPAGES = new Set([
    "blame", "blob", "commit", "commits", "compare", "delete-file", "discussions", "edit", "raw", "resolve",
    "settings", "tree", "upload",
  ]);
  const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

  /**
   * The model id a huggingface.co path points at, or null when the path cannot be a model page.
   * "/org/name", "/org/name/tree/main" -> "org/name"; legacy "/gpt2", "/gpt2/discussions" -> "gpt2".
   * A single segment may also be a user or an organisation: callers confirm it from the page.
   */
  function modelIdFromPath(pathname) {
    let parts;
    try {
      parts = String(pathname).split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      return null; // malformed %-escape
    }
    // only the id's own segments must look like a Hub name; a sub-page path (tree/main/x) may hold anything
    if (parts.length === 0 || RESERVED.has(parts[0].toLowerCase()) || !SEGMENT.test(parts[0])) return null;
    if (parts.length === 1 || SUBPAGES.has(parts[1])) return parts[0];
    return SEGMENT.test(parts[1]) ? `${parts[0]}/${parts[1]}` : null;
  }

  /** "org/name" -> "org/name" with each segment percent-encoded (ids contain a slash). */
  function encodeModelPath(id) {
    return String(id).split("/").map(encodeURIComponent).join("/");
  }

  /** A usable API base URL ("http(s)://host[:port][/prefix]", no trailing slash) or null. */
  function normalizeApiBase(value) {
    let url;
    try {
      url = new URL(String(value).trim());
    } catch {
      return null;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (url.username || url.password) return null;
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  }

  /** The host-permission match pattern for an API base: "http://localhost:8000/*". */
  function originPattern(apiBase) {
    return `${new URL(apiBase).origin}/*`;
  }

  function clampK(value) {
    const k = Math.round(Number(value));
    return Number.isFinite(k) ? Math.min(K_MAX, Math.max(K_MIN, k)) : DEFAULTS.k;
  }

  /** Stored settings, with defaults filled in and bad values replaced. */
  function normalizeSettings(raw = {}) {
    return {
      apiBase: normalizeApiBase(raw.apiBase) ?? DEFAULTS.apiBase,
      uiBase: normalizeApiBase(raw.uiBase) ?? DEFAULTS.uiBase,
      method: typeof raw.method === "string" && /^[\w-]{0,50}$/.test(raw.method) ? raw.method : DEFAULTS.method,
      k: clampK(raw.k ?? DEFAULTS.k),
      sort: Object.hasOwn(SORTS, raw.sort) ? raw.sort : DEFAULTS.sort,
      relation: Object.hasOwn(RELATIONS, raw.relation) ? raw.relation : DEFAULTS.relation,
    };
  }

  async function loadSettings() {
    return normalizeSettings(await chrome.storage.sync.get({ ...DEFAULTS }));
  }

  globalThis.HFMRS = Object.freeze({
    DEFAULTS, K_MIN, K_MAX, SORTS, RELATIONS, FALLBACK_METHODS,
    modelIdFromPath, encodeModelPath, normalizeApiBase, originPattern, clampK, normalizeSettings, loadSettings,
  });
})();
