// The search page: calls /api/search, /api/recommend, /api/users/{u}/interests and /api/click.
// Plain DOM, no build step; every value from the server is set with textContent.
"use strict";

const COMPONENT_COLORS = {
  bm25: "#3b6fe0",
  interest: "#e8590c",
  query: "#0ca678",
  freshness: "#f2b705",
  category: "#ae3ec9",
  popularity: "#7c8591",
  collaborative: "#1098ad",
};
const FALLBACK_COLOR = "#adb5bd";

const $ = (id) => document.getElementById(id);
const state = { user: "", query: "", requestId: null };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function colorOf(name) {
  return COMPONENT_COLORS[name] || FALLBACK_COLOR;
}

function setStatus(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.className = "status" + (kind ? " " + kind : "");
}

// With INTEREST_API_KEY set, the page is opened as /#key=THE_KEY: the fragment never reaches
// a server log; the key is kept for this tab and sent as X-API-Key on every call.
const API_KEY_STORE = "interest-api-key";

function apiKey() {
  const match = /(?:^|&)key=([^&]+)/.exec(window.location.hash.slice(1));
  if (match) {
    sessionStorage.setItem(API_KEY_STORE, decodeURIComponent(match[1]));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(API_KEY_STORE);
}

function withKey(options) {
  const key = apiKey();
  if (!key) return options;
  const given = options || {};
  return { ...given, headers: { ...(given.headers || {}), "X-API-Key": key } };
}

async function getJson(url, options) {
  const response = await fetch(url, withKey(options));
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    let message = body && body.error ? body.error : `HTTP ${response.status}`;
    if (response.status === 401 && !url.startsWith("/api/admin")) {
      message += " (open this page as /#key=YOUR_KEY)";
    }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

function params() {
  return {
    user: $("user").value.trim(),
    q: $("query").value.trim(),
    mode: $("mode").value,
    scorer: $("scorer").value,
  };
}

function syncUrl(action, p) {
  const url = new URL(window.location.href);
  url.search = "";
  for (const [key, value] of Object.entries(p)) if (value) url.searchParams.set(key, value);
  if (action === "recommend") url.searchParams.set("action", "recommend");
  window.history.replaceState(null, "", url);
}

async function run(action) {
  const p = params();
  if (action === "search" && !p.q) {
    setStatus("Type a query first.", "warn");
    $("query").focus();
    return;
  }
  if (action === "recommend" && !p.user) {
    setStatus("Recommendations need a user.", "warn");
    $("user").focus();
    return;
  }
  const query = new URLSearchParams({ size: "10", mode: p.mode });
  if (p.user) query.set("user", p.user);
  if (p.scorer) query.set("scorer", p.scorer);
  if (action === "search") query.set("q", p.q);
  syncUrl(action, p);
  setStatus(action === "search" ? "Searching…" : "Finding recommendations…", "busy");
  document.body.dataset.state = "loading";
  const started = performance.now();
  try {
    const result = await getJson(`/api/${action}?${query}`);
    const ms = Math.round(performance.now() - started);
    state.user = p.user;
    state.query = action === "search" ? p.q : "";
    state.requestId = result.request_id || null;
    render(result, action, p, ms);
    document.body.dataset.state = "done";
  } catch (err) {
    $("results").replaceChildren();
    $("legend").hidden = true;
    setStatus(err.message, "error");
    document.body.dataset.state = "error";
  }
  loadInterests(p.user);
}

function render(result, action, p, ms) {
  const hits = result.hits || [];
  const what = action === "search" ? `for “${p.q}”` : "recommended";
  const fallback = action === "search" ? "plain ranking" : "popular and fresh items";
  const who = result.cold_start
    ? p.user
      ? `no interests for ${p.user} yet: ${fallback}`
      : `no user: ${fallback}`
    : `personalised for ${p.user}`;
  setStatus(
    `${hits.length} result${hits.length === 1 ? "" : "s"} ${what} · ${who} · ` +
      `${result.mode} · ${result.scorer} · ${ms} ms`,
    result.cold_start ? "cold" : "ok",
  );
  renderLegend(hits);
  const list = $("results");
  list.replaceChildren();
  if (!hits.length) {
    list.append(el("li", "empty", "Nothing matched."));
    return;
  }
  const maxScore = Math.max(...hits.map((h) => h.score), 1e-9);
  hits.forEach((hit, index) => list.append(renderHit(hit, index + 1, maxScore)));
}

function renderLegend(hits) {
  const names = new Set();
  for (const hit of hits) {
    for (const [name, value] of Object.entries(hit.components || {})) if (value > 0) names.add(name);
  }
  const legend = $("legend");
  legend.replaceChildren();
  for (const name of names) {
    const item = el("span", "legend-item");
    const dot = el("span", "dot");
    dot.style.background = colorOf(name);
    item.append(dot, el("span", null, name));
    legend.append(item);
  }
  legend.hidden = names.size === 0;
}

function renderHit(hit, rank, maxScore) {
  const li = el("li", "hit");
  li.dataset.id = hit.id;
  li.dataset.rank = String(rank);

  const head = el("div", "hit-head");
  head.append(el("span", "rank", rank));
  const title = el("a", "title", hit.title || hit.id);
  title.href = "#";
  title.addEventListener("click", (event) => {
    event.preventDefault();
    recordClick(hit, rank, li);
  });
  head.append(title);
  if (hit.category) head.append(el("span", "chip", hit.category));
  // The closest interest, when it carries a real share of the score and the reason is silent.
  const interestShare = ((hit.components || {}).interest || 0) / (hit.score || 1);
  if (hit.interest && interestShare >= 0.25 && !(hit.reason || "").includes(hit.interest)) {
    const chip = el("span", "chip interest-chip", hit.interest);
    chip.title = "the interest this result matches";
    head.append(chip);
  }
  head.append(el("span", "score", hit.score.toFixed(3)));
  li.append(head);

  li.append(el("p", "reason", hit.reason || ""));

  const components = Object.entries(hit.components || {}).filter(([, v]) => v > 0);
  components.sort((a, b) => b[1] - a[1]);
  const bar = el("div", "bar");
  bar.style.width = `${Math.max(4, (hit.score / maxScore) * 100)}%`;
  bar.title = "each component's share of the score";
  const total = components.reduce((sum, [, v]) => sum + v, 0) || 1;
  for (const [name, value] of components) {
    const segment = el("span", "segment");
    segment.style.width = `${(value / total) * 100}%`;
    segment.style.background = colorOf(name);
    segment.title = `${name}: ${value.toFixed(4)}`;
    bar.append(segment);
  }
  const track = el("div", "bar-track");
  track.append(bar);
  li.append(track);

  const parts = el("ul", "components");
  for (const [name, value] of components) {
    const part = el("li", "component");
    part.dataset.name = name;
    const dot = el("span", "dot");
    dot.style.background = colorOf(name);
    part.append(dot, el("span", "name", name), el("span", "value", value.toFixed(3)));
    parts.append(part);
  }
  li.append(parts);
  return li;
}

async function recordClick(hit, rank, li) {
  if (!state.user) {
    li.classList.add("flash");
    setStatus("Enter a user to record clicks.", "warn");
    return;
  }
  const body = { user: state.user, item: hit.id, rank };
  if (state.query) body.query = state.query;
  if (state.requestId) body.request_id = state.requestId;
  try {
    await getJson("/api/click", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      keepalive: true,
    });
    li.classList.add("clicked");
  } catch (err) {
    setStatus(`Click not recorded: ${err.message}`, "error");
  }
}

async function loadInterests(user) {
  const box = $("interests");
  if (!user) {
    box.className = "interests muted";
    box.textContent = "Pick a user to see what they are into.";
    return;
  }
  try {
    const data = await getJson(`/api/users/${encodeURIComponent(user)}/interests`);
    renderInterests(data);
  } catch (err) {
    box.className = "interests muted";
    box.textContent = err.status === 404 ? `No interests recorded for ${user} yet.` : err.message;
  }
}

function shortTime(iso) {
  if (!iso) return "never";
  return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

function renderInterests(data) {
  const box = $("interests");
  box.className = "interests";
  box.replaceChildren();
  const events = `${data.events} event${data.events === 1 ? "" : "s"}`;
  box.append(el("p", "muted", `${events} · updated ${shortTime(data.updated_at)}`));
  const clusters = data.clusters || [];
  if (clusters.length) {
    const max = Math.max(...clusters.map((c) => c.weight), 1e-9);
    const list = el("ul", "clusters");
    for (const cluster of clusters) {
      const item = el("li", "cluster");
      item.append(el("span", "cluster-label", cluster.label || "(unlabelled)"));
      const meter = el("span", "meter");
      const fill = el("span", "fill");
      fill.style.width = `${(cluster.weight / max) * 100}%`;
      meter.append(fill);
      item.append(meter, el("span", "value", cluster.weight.toFixed(2)));
      list.append(item);
    }
    box.append(list);
  }
  const categories = Object.entries(data.categories || {}).slice(0, 6);
  if (categories.length) {
    box.append(el("h3", null, "Categories"));
    const row = el("div", "chips");
    categories.forEach(([name, w]) => row.append(el("span", "chip", `${name} ${w.toFixed(2)}`)));
    box.append(row);
  }
  const keywords = Object.keys(data.keywords || {}).slice(0, 12);
  if (keywords.length) {
    box.append(el("h3", null, "Keywords"));
    const row = el("div", "chips");
    keywords.forEach((k) => row.append(el("span", "chip subtle", k)));
    box.append(row);
  }
}

async function loadHealth() {
  const badge = $("health");
  try {
    const response = await fetch("/api/health", withKey());
    const data = await response.json();
    const ok = data.status === "ok";
    badge.textContent = ok ? "● healthy" : "● degraded";
    badge.className = "health " + (ok ? "ok" : "bad");
    badge.title = `Elasticsearch: ${data.elasticsearch.status} · Redis: ${data.redis.ok ? "ok" : "down"}`;
  } catch (err) {
    badge.textContent = "● unreachable";
    badge.className = "health bad";
  }
}

function init() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run("search");
  });
  $("recommend-button").addEventListener("click", () => run("recommend"));
  $("user").addEventListener("change", () => loadInterests($("user").value.trim()));

  const url = new URL(window.location.href);
  const get = (key) => url.searchParams.get(key) || "";
  $("user").value = get("user");
  $("query").value = get("q");
  if (get("mode")) $("mode").value = get("mode");
  if (get("scorer")) $("scorer").value = get("scorer");
  loadHealth();
  if (get("action") === "recommend" && get("user")) run("recommend");
  else if (get("q")) run("search");
  else loadInterests(get("user"));
  document.body.dataset.ready = "true";
}

init();
