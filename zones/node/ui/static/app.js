/* The zones page: log in at this zone, follow its subtree (/zones/tree) and its instances.
 *
 * Every value from the API is written as text (textContent), never as HTML: zone names,
 * problem details and instance names come from users. The page calls only its own zone.
 * A link to a child's page carries the login in the URL's fragment (never sent to any
 * server): the child's page moves it into its own sessionStorage and out of the address
 * bar, and falls back to its login form when the child does not trust this zone's tokens.
 */
"use strict";

const TOKEN_KEY = "zones.token";
const USER_KEY = "zones.user";
const CARRIED_KEY = "zones.carried-from";
const TREE_EVERY_MS = 1500;
const INSTANCES_EVERY_MS = 5000;
const CALL_TIMEOUT_MS = 10000;
const INSTANCE_PAGES = 20; // of 1000 instances each
const STATES = ["online", "offline", "disabled", "unknown"];

const $ = (id) => document.getElementById(id);
const errors = new Map(); // what failed, by what was being read

class CallFailed extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/* ------------------------------------------------------------------ calls and the login */

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
  } catch (error) {
    throw new CallFailed(0, `cannot reach this zone (${location.origin}): ${error.message}`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new CallFailed(response.status, problemText(response, data));
  return data;
}

function problemText(response, problem) {
  if (problem && typeof problem === "object" && (problem.title || problem.detail)) {
    const title = `${response.status} ${problem.title || response.statusText}`;
    return problem.detail ? `${title}: ${problem.detail}` : title;
  }
  return `${response.status} ${response.statusText}`;
}

function takeLoginFromAddress() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, fragment.get("user") || "");
  sessionStorage.setItem(CARRIED_KEY, fragment.get("from") || "another zone");
  history.replaceState(null, "", location.pathname + location.search);
}

function carryLogin(event) {
  const link = event.target.closest("a.child-page");
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!link || !token) return;
  const user = sessionStorage.getItem(USER_KEY) || "";
  const carried = new URLSearchParams({ token, user, from: location.origin });
  link.href = `${link.dataset.page}#${carried}`;
  // Only this navigation carries it: the address shown, copied or bookmarked stays bare.
  setTimeout(() => { link.href = link.dataset.page; }, 0);
}

async function logIn(event) {
  event.preventDefault();
  const problem = $("login-error");
  problem.hidden = true;
  $("login-submit").disabled = true;
  try {
    const username = $("username").value;
    const answer = await call("POST", "/auth/tokens", { username, password: $("password").value });
    sessionStorage.setItem(TOKEN_KEY, answer.token);
    sessionStorage.setItem(USER_KEY, answer.user ? answer.user.name : username);
    sessionStorage.removeItem(CARRIED_KEY);
    $("password").value = "";
    showApp();
  } catch (failure) {
    problem.textContent = failure.message;
    problem.hidden = false;
  } finally {
    $("login-submit").disabled = false;
  }
}

function endSession(why) {
  for (const key of [TOKEN_KEY, USER_KEY, CARRIED_KEY]) sessionStorage.removeItem(key);
  showLogin(why);
}

function sessionEndedBy(failure) {
  const from = sessionStorage.getItem(CARRIED_KEY);
  if (from) {
    return `This zone did not accept the login carried from ${from} (${failure.message}). ` +
      "Log in here with an account of this zone.";
  }
  return `Your login is no longer accepted (${failure.message}). Log in again.`;
}

/* ------------------------------------------------------------------ what is shown */

function every(ms, task) {
  let generation = 0;
  let timer = null;
  async function run(mine) {
    if (mine !== generation) return;
    await task(() => mine === generation);
    if (mine === generation) timer = setTimeout(() => run(mine), ms);
  }
  return {
    start() { this.stop(); run(generation); },
    stop() { generation += 1; clearTimeout(timer); },
  };
}

const treePoller = every(TREE_EVERY_MS, readTree);
const instancesPoller = every(INSTANCES_EVERY_MS, readInstances);

function showLogin(why) {
  treePoller.stop();
  instancesPoller.stop();
  errors.clear();
  showErrors();
  $("tree").replaceChildren();
  $("instances").replaceChildren();
  $("app").hidden = true;
  $("whoami").hidden = true;
  $("login").hidden = false;
  $("login-why").textContent = why || "";
  $("login-why").hidden = !why;
  $("username").focus();
}

function showApp() {
  $("login").hidden = true;
  $("login-error").hidden = true;
  $("app").hidden = false;
  $("whoami").hidden = false;
  $("user-name").textContent = sessionStorage.getItem(USER_KEY) || "";
  showTab(document.querySelector('.tabs [aria-selected="true"]') || $("tab-tree"));
}

function showTab(tab) {
  for (const other of document.querySelectorAll(".tabs [role=tab]")) {
    const chosen = other === tab;
    other.setAttribute("aria-selected", String(chosen));
    $(other.dataset.panel).hidden = !chosen;
  }
  const onTree = tab.id === "tab-tree";
  (onTree ? instancesPoller : treePoller).stop();
  (onTree ? treePoller : instancesPoller).start();
}

function showErrors() {
  const banner = $("call-error");
  banner.textContent = [...errors.values()].join("\n");
  banner.hidden = errors.size === 0;
}

/* Whether to keep reading: a 401 ends the session, anything else is said and retried. */
function failed(what, failure, retryMs) {
  if (failure.status === 401) {
    endSession(sessionEndedBy(failure));
    return false;
  }
  errors.set(what, `Could not read ${what}: ${failure.message}. Trying again every ` +
    `${retryMs / 1000} s; what is shown is what was last read.`);
  showErrors();
  return true;
}

function succeeded(what) {
  if (errors.delete(what)) showErrors();
}

function text(node, value) {
  if (node.textContent !== value) node.textContent = value;
}

function element(tag, className, content) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (content !== undefined) made.textContent = content;
  return made;
}

/* ------------------------------------------------------------------ the tree tab */

async function readTree(current) {
  try {
    const answer = await call("GET", "/zones/tree");
    if (!current()) return;
    showTree(answer.zone);
    succeeded("the tree");
    $("panel-tree").classList.remove("stale");
  } catch (failure) {
    if (!current()) return;
    if (failed("the tree", failure, TREE_EVERY_MS)) $("panel-tree").classList.add("stale");
  }
}

function showTree(top) {
  text($("zone-name"), top.name);
  document.title = `zones · ${top.name}`;
  const all = [];
  (function collect(zone) { all.push(zone); (zone.children || []).forEach(collect); })(top);
  showSummary(all);
  showRoom(top);
  placeZones($("tree"), [top], top, true);
  text($("tree-updated"), new Date().toLocaleTimeString());
}

function showSummary(all) {
  const named = Object.fromEntries(STATES.map((state) => [state, []]));
  for (const zone of all) (named[zone.state] || named.unknown).push(zone.name);
  const offline = named.offline;
  const summary = $("summary");
  summary.classList.toggle("alarm", offline.length > 0);
  const headline = offline.length
    ? `${offline.length} zone${offline.length > 1 ? "s" : ""} offline: ${offline.join(", ")}`
    : `No zone offline: ${named.online.length} of ${all.length} online`;
  const others = ["unknown", "disabled"]
    .filter((state) => named[state].length)
    .map((state) => `${named[state].length} ${state}: ${named[state].join(", ")}`)
    .join("; ");
  if (!summary.firstChild) summary.append(element("span", "headline"), element("span", "also"));
  text(summary.firstChild, headline);
  text(summary.lastChild, others);
}

/* A zone's open room: what work that names no reserved key may use (all of it when the
   zone reports no `open`: nothing is reserved below it). */
function openFree(zone) {
  return zone.open ? zone.open.free : zone.free;
}

/* Where the room is: for each resource, down the online children with the most of it free
   and open (room reserved for some work is not room for any work). */
function showRoom(top) {
  const lines = Object.keys(openFree(top) || {}).sort().map((resource) => {
    const path = [top.name];
    let zone = top;
    for (;;) {
      const fuller = (zone.children || [])
        .filter((child) => child.state === "online" && (openFree(child) || {})[resource])
        .sort((a, b) => openFree(b)[resource].sum - openFree(a)[resource].sum)[0];
      if (!fuller) break;
      zone = fuller;
      path.push(zone.name);
    }
    const shown = amount(resource, openFree(zone)[resource].sum);
    return `${shown.label}: ${path.join(" › ")} (${shown.text} free)`;
  });
  const reserved = top.reserved && top.reserved.length
    ? ` (not counting room reserved for ${top.reserved.join(", ")})` : "";
  text($("room"), lines.length
    ? `Most open room${reserved} — ${lines.join(" · ")}` : "No free inventory reported.");
}

function placeZones(list, zones, top, isTop) {
  const kept = new Map([...list.children].map((item) => [item.dataset.key, item]));
  const used = new Set();
  zones.forEach((zone, index) => {
    let key = `zone:${zone.name}`;
    if (used.has(key)) key += `#${index}`;
    used.add(key);
    const item = kept.get(key) || newZone(key);
    kept.delete(key);
    fillZone(item, zone, top, isTop);
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] || null);
  });
  for (const gone of kept.values()) gone.remove();
}

function newZone(key) {
  const item = element("li", "zone");
  item.dataset.key = key;
  const card = element("div", "card");
  const fold = element("button", "fold", "▾");
  fold.type = "button";
  fold.setAttribute("aria-expanded", "true");
  fold.title = "Fold or unfold this zone's children";
  const facts = element("div", "facts");
  const parts = {
    fold,
    name: element("span", "name"),
    badge: element("span", "badge"),
    hosts: element("span", "count"),
    instances: element("span", "count"),
    free: element("span", "free"),
    seen: element("span", "seen"),
    reserved: element("span", "reserved"),
    open: element("span", "open"),
    link: element("a", "child-page", "open its page ›"),
    children: element("ul", "children"),
  };
  fold.addEventListener("click", () => {
    const open = parts.children.hidden;
    parts.children.hidden = !open;
    fold.setAttribute("aria-expanded", String(open));
    fold.textContent = open ? "▾" : "▸";
  });
  facts.append(parts.hosts, parts.instances, parts.seen, parts.reserved, parts.free);
  parts.open.append(parts.link);
  card.append(fold, parts.name, parts.badge, facts, parts.open);
  item.append(card, parts.children);
  item.parts = parts;
  return item;
}

function fillZone(item, zone, top, isTop) {
  const parts = item.parts;
  const state = STATES.includes(zone.state) ? zone.state : "unknown";
  if (item.className !== `zone ${state}`) item.className = `zone ${state}`;
  text(parts.name, zone.name);
  text(parts.badge, state);
  if (parts.badge.className !== `badge ${state}`) parts.badge.className = `badge ${state}`;
  fillFact(parts.hosts, zone.hosts, "host");
  fillFact(parts.instances, zone.instances, "instance");
  fillFree(parts.free, zone.free, top.free || {});
  const kept = zone.reserved && zone.reserved.length ? zone.reserved.join(", ") : "";
  text(parts.reserved, kept ? `room reserved for ${kept} below` : "");
  parts.reserved.hidden = !kept;
  const byNameOnly = !isTop && !zone.last_seen && typeof zone.hosts !== "number";
  text(parts.seen, isTop ? "this zone" : byNameOnly ? "known by name only" : seenAgo(zone.last_seen));
  parts.seen.title = zone.last_seen || "";
  const page = isTop ? null : pageOf(zone.url);
  parts.open.hidden = page === null;
  if (page !== null && parts.link.dataset.page !== page) {
    parts.link.dataset.page = page;
    parts.link.href = page;
    parts.link.title = `${zone.name}'s own page: ${page}`;
  }
  parts.fold.disabled = !(zone.children || []).length;
  placeZones(parts.children, zone.children || [], top, false);
}

function fillFact(node, count, noun) {
  if (!node.firstChild) node.append(element("b"), document.createTextNode(""));
  const known = typeof count === "number";
  text(node.firstChild, known ? count.toLocaleString("en") : "?");
  text(node.lastChild, ` ${noun}${count === 1 ? "" : "s"}`);
}

function fillFree(node, free, topFree) {
  const resources = Object.keys(free || {}).sort();
  const signature = JSON.stringify([free, resources.map((key) => topFree[key])]);
  if (node.dataset.signature === signature) return;
  node.dataset.signature = signature;
  if (!free || !resources.length) {
    node.replaceChildren(element("span", "none", free ? "nothing free" : "free: not known"));
    return;
  }
  node.replaceChildren(...resources.map((resource) => {
    const { sum, max } = free[resource];
    const total = amount(resource, sum);
    const entry = element("span", "resource");
    const meter = element("meter");
    const whole = topFree[resource] ? topFree[resource].sum : 0;
    meter.min = 0;
    meter.max = 1;
    meter.value = whole > 0 ? Math.min(1, sum / whole) : 0;
    meter.title = `${Math.round(meter.value * 100)}% of the free ${total.label} of this tree`;
    entry.append(element("b", "", `${total.label} ${total.text}`),
      document.createTextNode(` free (at most ${amount(resource, max).text} on one host) `), meter);
    return entry;
  }));
}

const SIZE_UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

/* A resource's amount for people: `ram_mb` 251904 is "ram 246 GB"; `vcpus` 120 is "120". */
function amount(resource, value) {
  const sized = /^(.*)_(kb|mb|gb|tb)$/.exec(resource);
  if (!sized) return { label: resource, text: figure(value) };
  let scaled = value;
  let unit = SIZE_UNITS.indexOf(sized[2].toUpperCase());
  while (Math.abs(scaled) >= 1024 && unit < SIZE_UNITS.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return { label: sized[1], text: `${figure(scaled)} ${SIZE_UNITS[unit]}` };
}

function figure(value) {
  if (Number.isInteger(value)) return value.toLocaleString("en");
  return value.toLocaleString("en", { maximumFractionDigits: Math.abs(value) < 10 ? 1 : 0 });
}

function seenAgo(iso) {
  if (!iso) return "never seen";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 90) return `last seen ${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `last seen ${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return `last seen ${hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`} ago`;
}

/* A child's page, only for an http(s) URL: a zone's URL comes from users too. */
function pageOf(url) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}/ui`;
  } catch {
    return null;
  }
}

/* ------------------------------------------------------------------ the instances tab */

let instances = [];

async function readInstances(current) {
  try {
    const found = [];
    const unreachable = new Set();
    let marker = null;
    let pages = 0;
    do {
      const query = new URLSearchParams({ all_clients: "true", limit: "1000" });
      if (marker) query.set("marker", marker);
      const answer = await call("GET", `/instances?${query}`);
      found.push(...answer.instances);
      (answer.unreachable_zones || []).forEach((name) => unreachable.add(name));
      marker = answer.next_marker;
      pages += 1;
    } while (marker && pages < INSTANCE_PAGES && current());
    if (!current()) return;
    showInstances(found, [...unreachable].sort(), Boolean(marker));
    succeeded("the instances");
  } catch (failure) {
    if (current()) failed("the instances", failure, INSTANCES_EVERY_MS);
  }
}

function showInstances(found, unreachable, more) {
  instances = found;
  const columns = ["name", "id", "client", "status", "zone", "host", "created_at"];
  const rows = found.map((instance) => {
    const row = element("tr");
    for (const column of columns) {
      const value = instance[column];
      const cell = element("td", column, value === null || value === undefined ? "" : String(value));
      if (column === "status") cell.classList.add(`status-${value}`);
      if (column === "created_at" && value) cell.textContent = new Date(value).toLocaleString();
      if (column === "status" && instance.fault) cell.title = instance.fault.message || "";
      row.append(cell);
    }
    return row;
  });
  $("instances").replaceChildren(...rows);
  const notice = $("unreachable");
  notice.textContent = unreachable.length
    ? `Could not ask ${unreachable.join(", ")}: their instances are shown as last known.`
    : "";
  notice.hidden = unreachable.length === 0;
  $("instances").dataset.more = more ? "yes" : "";
  filterInstances();
}

function filterInstances() {
  const wanted = $("filter").value.trim().toLowerCase();
  let shown = 0;
  [...$("instances").children].forEach((row, index) => {
    const visible = !wanted || String(instances[index].name).toLowerCase().includes(wanted);
    row.hidden = !visible;
    shown += visible ? 1 : 0;
  });
  const more = $("instances").dataset.more ? ` (the first ${instances.length}; more exist)` : "";
  text($("instances-count"), `${shown} of ${instances.length} instances${more}`);
}

/* ------------------------------------------------------------------ start */

function start() {
  text($("zone-name"), location.host);
  takeLoginFromAddress();
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", () => endSession("You are logged out."));
  $("tree").addEventListener("click", carryLogin);
  $("tree").addEventListener("auxclick", carryLogin);
  for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
    tab.addEventListener("click", () => showTab(tab));
  }
  $("filter").addEventListener("input", filterInstances);
  $("refresh-instances").addEventListener("click", () => instancesPoller.start());
  if (sessionStorage.getItem(TOKEN_KEY)) showApp();
  else showLogin("");
}

start();
