// Content script for https://huggingface.co/*: on model pages, a "Similar Models" panel in the sidebar.
// The page is a client-side app (it re-renders and navigates with history.pushState), so instead of
// acting once, sync() is re-run on DOM changes and URL changes and converges to "exactly one panel, for
// the model in the URL, in the right place".  All DOM is built with createElement/textContent.
"use strict";

(() => {
  if (globalThis.__hfmrsContentLoaded) return; // injected twice (e.g. extension reloaded): one instance only
  globalThis.__hfmrsContentLoaded = true;

  const { modelIdFromPath, encodeModelPath } = globalThis.HFMRS;
  const PANEL_ATTR = "data-hfmrs-panel";
  const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

  let generation = 0; // bumped when the settings change: cached answers and rendered panels are stale
  const cache = new Map(); // `${generation}|${id}` -> Promise of the service worker's answer
  let alive = true;
  let ownPanel = null;

  // ---- where we are ----------------------------------------------------------------------------

  /** Hub repo pages carry tab links to their own files and discussions; user and org pages do not. */
  function looksLikeRepoPage(id) {
    const prefixes = [`/${id}/tree/`, `/${id}/blob/`, `/${id}/discussions`, `/${id}/commits/`].map((p) =>
      p.toLowerCase(),
    );
    for (const a of document.querySelectorAll("a[href]")) {
      let path;
      try {
        path = decodeURIComponent(new URL(a.getAttribute("href"), location.origin).pathname).toLowerCase();
      } catch {
        continue;
      }
      if (prefixes.some((p) => path.startsWith(p))) return true;
    }
    return false;
  }

  /** The model id of the current page, or null when this is not a model page. */
  let confirmed = ""; // the last path whose page proved to be a repo page (the check scans every link)
  function currentModelId() {
    const id = modelIdFromPath(location.pathname);
    if (!id) return null;
    if (confirmed !== location.pathname) {
      if (!looksLikeRepoPage(id)) return null; // not (yet) rendered as a repo page: checked again on change
      confirmed = location.pathname;
    }
    return id;
  }

  // ---- where the panel goes ----------------------------------------------------------------------

  // The sidebar is found by what it says, then by structure; never by one class name (the Hub's markup
  // changes with every redesign).  Its first block on a model card page is "Downloads last month".
  const SIDEBAR_MARKERS = [/^downloads last month$/i, /^model tree for\b/i];
  const COLUMN_TAGS = new Set(["SECTION", "ASIDE"]);
  const CONTENT = ".model-card-content, [class*='model-card'], .prose, pre, code, table";

  /** The page's own content (model card, README, a file's code): the panel never goes inside it. */
  function findContent(root) {
    return (
      root.querySelector(".model-card-content") ??
      root.querySelector("[class*='model-card']:not([" + PANEL_ATTR + "])") ??
      root.querySelector(".prose") ??
      root.querySelector("pre, table")
    );
  }

  function isOurs(node) {
    return Boolean(node.closest?.(`[${PANEL_ATTR}], [${DRAWER_ATTR}]`));
  }

  /** The element holding a sidebar marker's text, outside the content and outside our own panel. */
  function findMarker(main) {
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.data.trim();
      if (text.length > 80 || !SIDEBAR_MARKERS.some((re) => re.test(text))) continue;
      const element = node.parentElement;
      if (element && !element.closest(CONTENT) && !isOurs(element)) return element;
    }
    return null;
  }

  /** The sidebar column holding `marker`: the ancestor beside the content's column (or the nearest
   * section/aside), and the block of it the marker is in: the panel goes right after that block. */
  function sidebarAround(marker, main, content) {
    let column = null;
    for (let el = marker; el && el !== main; el = el.parentElement) {
      if (content ? el.parentElement?.contains(content) && !el.contains(content) : COLUMN_TAGS.has(el.tagName)) {
        column = el;
        break;
      }
    }
    if (!column) return null;
    let block = marker;
    while (block.parentElement !== column) block = block.parentElement;
    return { mode: "sidebar", target: column, after: block };
  }

  /** The content's column has a <section>/<aside> sibling: the sidebar, by structure alone. */
  function sidebarBesideContent(main, content) {
    for (let column = content; column.parentElement && column !== main; column = column.parentElement) {
      const siblings = [...column.parentElement.children].filter(
        (el) => el !== column && COLUMN_TAGS.has(el.tagName) && !el.hidden && !isOurs(el),
      );
      if (siblings.length) return { mode: "sidebar", target: siblings[siblings.length - 1], after: null };
    }
    return null;
  }

  /** The sidebar when the page has one; otherwise the drawer behind a tab at the window's right edge. */
  function findPlacement() {
    const main = document.querySelector("main") ?? document.body;
    if (!main) return null;
    const content = findContent(main);
    const marker = findMarker(main);
    const bySidebar = (marker && sidebarAround(marker, main, content)) || (content && sidebarBesideContent(main, content));
    return bySidebar || { mode: "drawer" };
  }

  function isInPlace(panel, placement) {
    if (placement.mode === "drawer") return panel.parentElement === drawer?.body;
    if (placement.after) return panel.previousElementSibling === placement.after;
    return panel.parentElement === placement.target && panel === placement.target.lastElementChild;
  }

  function insert(panel, placement) {
    if (placement.mode === "drawer") ensureDrawer().body.append(panel);
    else if (placement.after) placement.after.after(panel);
    else placement.target.append(panel);
  }

  // ---- the drawer: a tab fixed at the right edge, opening the same panel ---------------------------

  const DRAWER_ATTR = "data-hfmrs-drawer";
  const DRAWER_KEY = "hfmrsDrawerOpen"; // remembered per site (chrome.storage.local)
  let drawer = null;

  function ensureDrawer() {
    if (drawer && drawer.root.isConnected) return drawer;
    const root = el("div", "hfmrs-drawer-root");
    root.setAttribute(DRAWER_ATTR, "");
    const tab = el("button", "hfmrs-tab", "Similar models");
    tab.type = "button";
    tab.setAttribute("aria-controls", "hfmrs-drawer");
    tab.setAttribute("aria-expanded", "false");
    const sheet = el("div", "hfmrs-drawer");
    sheet.id = "hfmrs-drawer";
    sheet.setAttribute("role", "dialog");
    sheet.setAttribute("aria-label", "Similar models");
    sheet.hidden = true;
    const close = el("button", "hfmrs-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Close similar models");
    const body = el("div", "hfmrs-drawer-body");
    sheet.append(close, body);
    root.append(tab, sheet);
    document.body.append(root);
    tab.addEventListener("click", () => openDrawer(sheet.hidden, true));
    close.addEventListener("click", () => openDrawer(false, true));
    sheet.addEventListener("keydown", (event) => {
      if (event.key === "Escape") openDrawer(false, true);
    });
    drawer = { root, tab, sheet, close, body };
    chrome.storage.local
      .get({ [DRAWER_KEY]: false })
      .then((stored) => openDrawer(Boolean(stored[DRAWER_KEY]), false))
      .catch(() => {});
    return drawer;
  }

  function openDrawer(open, byUser) {
    if (!drawer) return;
    drawer.sheet.hidden = !open;
    drawer.tab.setAttribute("aria-expanded", String(open));
    drawer.root.dataset.open = String(open);
    if (!byUser) return;
    (open ? drawer.close : drawer.tab).focus();
    chrome.storage.local.set({ [DRAWER_KEY]: open }).catch(() => {});
  }

  function removeDrawer() {
    drawer?.root.remove();
    drawer = null;
  }

  // ---- building the panel ------------------------------------------------------------------------

  /** createElement with a class and optional text: never HTML. */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function optionsLink(label) {
    const link = el("a", "hfmrs-options-link", label);
    link.href = "#";
    link.addEventListener("click", (event) => {
      event.preventDefault();
      chrome.runtime.sendMessage({ type: "openOptions" }).catch(() => {});
    });
    return link;
  }

  /** "more on HFMRS": the web UI with this model picked (the id percent-encoded in the query string). */
  function moreLink(uiBase, id) {
    const link = el("a", "hfmrs-more", "more on HFMRS");
    link.href = `${uiBase ?? "http://localhost:7860"}/?model=${encodeURIComponent(id)}`;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  function newPanel() {
    const panel = el("section", "hfmrs-panel");
    panel.setAttribute(PANEL_ATTR, "");
    panel.setAttribute("aria-label", "Similar Models");
    const title = el("h2", "hfmrs-title", "Similar Models");
    title.append(el("span", "hfmrs-count"));
    panel.append(title, el("div", "hfmrs-body"));
    return panel;
  }

  function showLoading(panel, id) {
    setState(panel, id, "loading");
    panel.querySelector(".hfmrs-count").textContent = "";
    const body = el("div", "hfmrs-body");
    body.append(el("p", "hfmrs-note", "Loading similar models…"));
    panel.querySelector(".hfmrs-body").replaceWith(body);
  }

  function setState(panel, id, state) {
    panel.dataset.model = id;
    panel.dataset.generation = String(generation);
    panel.dataset.state = state;
    panel.setAttribute("aria-busy", String(state === "loading"));
  }

  // A 0-100 match as a bar and a number (the API's `match`); the method's raw score only in the tooltip.
  function matchMeter(result) {
    const meter = el("span", "hfmrs-match");
    meter.setAttribute("role", "meter");
    meter.setAttribute("aria-label", "match");
    meter.setAttribute("aria-valuemin", "0");
    meter.setAttribute("aria-valuemax", "100");
    meter.setAttribute("aria-valuenow", String(result.match));
    meter.title = `match ${result.match}/100` + (result.score !== null ? ` (score ${result.score.toFixed(3)})` : "");
    const track = el("span", "hfmrs-match-track");
    const bar = el("span", "hfmrs-match-bar");
    bar.style.width = `${result.match}%`;
    track.append(bar);
    meter.append(track, el("span", "hfmrs-match-n", String(result.match)));
    return meter;
  }

  function resultRow(result) {
    const row = el("li", "hfmrs-row");
    const link = el("a", "hfmrs-id", result.id);
    // a path on this site, each segment encoded: an id can never become markup or another URL
    link.href = new URL(`/${encodeModelPath(result.id)}`, location.origin).href;
    if (result.why.length) link.title = `Shared: ${result.why.join(", ")}`;
    const meta = el("div", "hfmrs-meta");
    if (result.match !== null) meta.append(matchMeter(result));
    if (result.downloads !== null) {
      const downloads = el("span", "hfmrs-downloads", `↓ ${compact.format(result.downloads)}`);
      downloads.title = `${result.downloads.toLocaleString("en")} downloads`;
      meta.append(downloads);
    }
    if (result.variants.length) {
      const copies = el("span", "hfmrs-variants", `+${result.variants.length} ${result.variants.length === 1 ? "copy" : "copies"}`);
      copies.title = `Quantized and format copies: ${result.variants.join(", ")}`;
      meta.append(copies);
    }
    row.append(link, meta);
    return row;
  }

  // "Family" (the model's lineage and release) and "Alternatives" (other models for the same job): each a
  // section when both are present, one list otherwise.
  const SECTIONS = [
    ["family", "Family"],
    ["alternative", "Alternatives"],
  ];

  function resultLists(results) {
    const present = SECTIONS.filter(([relation]) => results.some((r) => r.relation === relation));
    if (present.length < 2) {
      const list = el("ol", "hfmrs-list");
      list.append(...results.map(resultRow));
      return [list];
    }
    return present.flatMap(([relation, title]) => {
      const list = el("ol", "hfmrs-list");
      list.dataset.relation = relation;
      list.append(...results.filter((r) => r.relation === relation).map(resultRow));
      return [el("h3", "hfmrs-section", title), list];
    });
  }

  function render(panel, id, answer) {
    const body = el("div", "hfmrs-body");
    const count = panel.querySelector(".hfmrs-count");
    count.textContent = "";
    if (answer.ok && answer.results.length) {
      setState(panel, id, "ready");
      count.textContent = String(answer.results.length);
      const footer = el("p", "hfmrs-footer", `HFMRS${answer.method ? ` · ${answer.method}` : ""} · `);
      footer.append(moreLink(answer.uiBase, id), " · ", optionsLink("options"));
      body.append(...resultLists(answer.results), footer);
    } else if (answer.ok || answer.kind === "not_found") {
      setState(panel, id, "empty");
      body.append(
        el("p", "hfmrs-note", answer.ok ? "No similar models found." : "This model is not in the HFMRS catalog yet."),
      );
    } else {
      setState(panel, id, "error");
      const note = el("p", "hfmrs-note hfmrs-error", `${answer.message ?? "Similar models are unavailable."} `);
      note.append(optionsLink(answer.kind === "permission" ? "Grant access in the options" : "Check the options"));
      body.append(note);
    }
    panel.querySelector(".hfmrs-body").replaceWith(body);
  }

  // ---- keeping the page in sync ------------------------------------------------------------------

  /** The service worker's answer for a model, cached per settings generation (failures are retried). */
  function ask(id) {
    const key = `${generation}|${id}`;
    if (!cache.has(key)) {
      if (cache.size > 50) cache.clear();
      const answer = chrome.runtime
        .sendMessage({ type: "similar", id })
        .catch((error) => {
          if (!chrome.runtime?.id) stop(); // the extension was reloaded or removed: this script is orphaned
          return { ok: false, kind: "error", message: `Similar models are unavailable (${error?.message ?? error}).` };
        })
        .then((a) => a ?? { ok: false, kind: "error", message: "Similar models are unavailable." });
      answer.then((a) => a.ok || a.kind === "not_found" || cache.delete(key));
      cache.set(key, answer);
    }
    return cache.get(key);
  }

  async function fill(panel, id) {
    const wanted = String(generation);
    const answer = await ask(id);
    // a newer model or settings generation may have taken this panel over meanwhile
    if (alive && panel.dataset.model === id && panel.dataset.generation === wanted) render(panel, id, answer);
  }

  function sync() {
    if (!alive) return;
    const panels = [...document.querySelectorAll(`[${PANEL_ATTR}]`)];
    const id = currentModelId();
    const placement = id && findPlacement();
    if (!placement) {
      panels.forEach((p) => p.remove());
      removeDrawer();
      return;
    }
    if (placement.mode !== "drawer") removeDrawer();
    ownPanel ??= newPanel(); // one element for the script's lifetime, re-inserted when the page drops it
    const panel = ownPanel;
    panels.filter((p) => p !== panel).forEach((p) => p.remove()); // never more than one
    if (panel.dataset.model !== id || panel.dataset.generation !== String(generation)) {
      showLoading(panel, id); // a new model, or new settings: same element, new content
      fill(panel, id);
    }
    if (!isInPlace(panel, placement)) insert(panel, placement);
  }

  // Coalesce bursts of DOM mutations (the page re-renders a lot) into one sync per frame or so.
  let scheduled = 0;
  function schedule() {
    if (!scheduled && alive) scheduled = setTimeout(() => ((scheduled = 0), sync()), 50);
  }

  const observer = new MutationObserver(schedule);
  observer.observe(document.documentElement, { childList: true, subtree: true });
  addEventListener("popstate", schedule);
  globalThis.navigation?.addEventListener?.("navigatesuccess", schedule);
  // pushState from the page's own scripts fires no event in this isolated world: watch the URL too.
  let lastHref = location.href;
  const urlWatch = setInterval(() => {
    if (location.href !== lastHref) {
      lastHref = location.href;
      schedule();
    }
  }, 500);

  // Options changed: every open panel re-renders, without a reload.
  function onSettingsChanged(_changes, area) {
    if (area !== "sync") return;
    generation += 1;
    cache.clear();
    schedule();
  }
  chrome.storage.onChanged.addListener(onSettingsChanged);

  function stop() {
    alive = false;
    observer.disconnect();
    clearInterval(urlWatch);
    clearTimeout(scheduled);
  }

  sync();
})();
