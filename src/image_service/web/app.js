// The gallery page: filters mirrored in the page URL, sign-in, the grid, the viewer, uploads
// and bulk delete. Plain ES modules, no build step (docs/ARCHITECTURE.md).

import { api, AUTH_MODE, ApiError, session, tagList } from "./api.js";
import { Grid } from "./grid.js";
import { Uploader } from "./upload.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
// Typing pauses this long before the search runs: one request per word, not per key.
const DEBOUNCE_MS = 250;
// The page's URL parameters that are filters; others (inline_limit) are kept as they are.
const FILTERS = ["q", "tag", "category", "user_id", "visibility", "mine"];
const BULK_DELETE_MAX = 100;

const state = { me: null };
const filters = $("filters");

const grid = new Grid({
  list: $("grid"),
  sentinel: $("more"),
  status: $("status"),
  onOpen: (image, opener) => viewer.open(image, opener),
  onSelection: (selected) => {
    $("selection").hidden = selected.size === 0;
    $("selection-count").textContent = `${selected.size} selected`;
  },
});

const viewer = new Viewer({
  canEdit: (image) => Boolean(state.me && (AUTH_MODE === "none" || state.me.is_admin || state.me.user_id === image.user_id)),
  onChanged: (image) => grid.replace(image),
  onDeleted: (ids) => grid.remove(ids),
});

const uploader = new Uploader({ onUploaded: () => refresh() });

// --- filters <-> page URL -------------------------------------------------------------------

function formFilters() {
  const f = filters.elements;
  const wanted = {
    q: f.q.value.trim(),
    tag: tagList(f.tag.value),
    category: f.category.value.trim(),
    user_id: f.user_id.value.trim(),
    visibility: f.visibility.value,
    mine: f.mine.checked && state.me?.user_id ? "1" : "",
  };
  return wanted;
}

// What GET /images is asked: "mine" is the owner filter set to the signed-in user.
function listParams(wanted) {
  const { mine, ...params } = wanted;
  if (mine) params.user_id = state.me.user_id;
  return params;
}

function writeUrl(wanted) {
  const search = new URLSearchParams(location.search);
  for (const name of FILTERS) search.delete(name);
  for (const [name, value] of Object.entries(wanted)) {
    for (const one of [].concat(value)) if (one) search.append(name, one);
  }
  const text = search.toString();
  history.replaceState(null, "", `${location.pathname}${text ? `?${text}` : ""}`);
}

function readUrl() {
  const search = new URLSearchParams(location.search);
  const f = filters.elements;
  f.q.value = search.get("q") ?? "";
  f.tag.value = search.getAll("tag").join(", ");
  f.category.value = search.get("category") ?? "";
  f.user_id.value = search.get("user_id") ?? "";
  f.visibility.value = search.get("visibility") ?? "";
  f.mine.checked = search.get("mine") === "1";
}

let timer;
function refresh({ debounce = false } = {}) {
  clearTimeout(timer);
  const run = () => {
    const wanted = formFilters();
    filters.elements.user_id.disabled = Boolean(wanted.mine);
    writeUrl(wanted);
    grid.reset(listParams(wanted));
  };
  if (debounce) timer = setTimeout(run, DEBOUNCE_MS);
  else run();
}

// Text as it is typed (debounced); a choice at once.
filters.addEventListener("input", (event) => {
  if (event.target.matches("input[type=search], input:not([type])")) refresh({ debounce: true });
});
filters.addEventListener("change", (event) => {
  if (event.target.matches("select, input[type=checkbox]")) refresh();
});
filters.addEventListener("submit", (event) => {
  event.preventDefault();
  refresh();
});
filters.addEventListener("reset", () => setTimeout(() => refresh())); // after the form has cleared

// --- sign in ---------------------------------------------------------------------------------

// /gallery/me answers for anyone: without a (valid) user it names nobody, and that is no sign-in.
// (A key that is not valid is a 401; in IMAGE_SERVICE_AUTH=none an invalid user id names nobody.)
const somebody = (me) => Boolean(me && (me.user_id != null || me.is_admin));

function showAccount() {
  const me = state.me;
  const signedIn = somebody(me);
  $("sign-in-open").hidden = signedIn;
  $("sign-out").hidden = !signedIn;
  $("upload-open").hidden = !signedIn;
  $("who").hidden = !signedIn;
  $("who").textContent = signedIn ? (me.user_id ?? "admin") + (me.is_admin ? " (admin)" : "") : "";
  $("mine-label").hidden = !me?.user_id;
  grid.setSelectable(signedIn);
}

async function whoAmI(key) {
  return api("/gallery/me", { key });
}

const signIn = $("sign-in");
if (AUTH_MODE === "none") {
  $("sign-in-label").textContent = "User id";
  $("sign-in-hint").textContent = "This server trusts its network (IMAGE_SERVICE_AUTH=none): name the user to act as.";
  signIn.querySelector("input").type = "text";
}
$("sign-in-open").addEventListener("click", () => {
  $("sign-in-error").textContent = "";
  signIn.showModal();
});
signIn.querySelector("[data-close]").addEventListener("click", () => signIn.close());
$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = event.target.elements.key;
  const key = input.value.trim();
  const what = AUTH_MODE === "none" ? "user id" : "key";
  if (!key) {
    $("sign-in-error").textContent = `Enter a ${what}.`;
    return;
  }
  try {
    const me = await whoAmI(key);
    if (!somebody(me)) {
      $("sign-in-error").textContent = `That ${what} is not valid.`;
      return;
    }
    session.key = key;
    state.me = me;
    input.value = "";
    signIn.close();
    showAccount();
    refresh();
  } catch (error) {
    $("sign-in-error").textContent = error instanceof ApiError && error.status === 401 ? `That ${what} is not valid.` : error.message;
  }
});
$("sign-out").addEventListener("click", () => {
  session.key = null;
  state.me = null;
  filters.elements.mine.checked = false;
  showAccount();
  refresh();
});

$("upload-open").addEventListener("click", () => uploader.open());

// --- bulk delete -----------------------------------------------------------------------------

$("select-none").addEventListener("click", () => grid.clearSelection());
$("bulk-delete").addEventListener("click", async () => {
  const ids = [...grid.selected];
  if (!ids.length || !confirm(`Delete ${ids.length} image${ids.length === 1 ? "" : "s"}? This cannot be undone.`)) return;
  const failed = [];
  try {
    // The server takes at most BULK_DELETE_MAX ids a request (docs/API.md, Delete).
    for (let start = 0; start < ids.length; start += BULK_DELETE_MAX) {
      const chunk = ids.slice(start, start + BULK_DELETE_MAX);
      const answer = await api("/images", { method: "DELETE", body: { image_ids: chunk } });
      grid.remove(answer.deleted);
      failed.push(...answer.failed);
    }
  } catch (error) {
    $("status").textContent = `Could not delete: ${error.message}`;
    return;
  }
  if (failed.length) {
    const reasons = failed.map((f) => `${f.image_id}: ${f.reason.replaceAll("_", " ")}`);
    $("status").textContent = `Not deleted: ${reasons.join("; ")}`;
  }
});

// --- start -----------------------------------------------------------------------------------

async function start() {
  readUrl();
  if (session.key) {
    try {
      state.me = await whoAmI(session.key);
    } catch (error) {
      // Revoked or wrong: signed out. Anything else (a 503, no network) keeps the key for a reload.
      if (error instanceof ApiError && error.status === 401) session.key = null;
    }
    if (!somebody(state.me)) state.me = null;
  }
  showAccount();
  document.body.dataset.ready = "true";
  refresh();
}

start();
