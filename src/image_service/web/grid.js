// The grid of thumbnails: pages of GET /images followed by their cursor as the user scrolls,
// answers to an older query dropped, tiles that open the viewer and can be selected.

import { api, query } from "./api.js";

const PAGE_SIZE = 24;
// What a rendition URL says about the rendition (the rest is its signature and expiry).
const RENDITION_PARAMS = ["w", "h", "fit", "format", "quality"];
// Start the next page this far before the end of the grid comes into view.
const AHEAD = "600px";

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
export const altText = (image) => image.title || image.filename || image.name;

export class Grid {
  constructor({ list, sentinel, status, onOpen, onSelection }) {
    this.list = list;
    this.sentinel = sentinel;
    this.status = status;
    this.onOpen = onOpen;
    this.onSelection = onSelection;
    this.selected = new Set();
    this.selectable = false;
    this.filters = {};
    this.cursor = null;
    this.loading = false;
    this.generation = 0;
    this.count = 0;
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { rootMargin: AHEAD });
    this.observer.observe(sentinel);
  }

  // A new query: every answer to the previous one is ignored from now on.
  reset(filters) {
    this.filters = filters;
    this.generation += 1;
    this.controller?.abort();
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.count = 0;
    this.selected.clear();
    this.onSelection(this.selected);
    this.list.replaceChildren();
    this.list.setAttribute("aria-busy", "true");
    this.more();
  }

  async more() {
    if (this.loading || this.done) return;
    const generation = this.generation;
    this.loading = true;
    this.controller = new AbortController();
    const params = { ...this.filters, limit: PAGE_SIZE, cursor: this.cursor };
    this.status.textContent = this.count ? "Loading more…" : "Loading…";
    try {
      const page = await api(`/images${query(params)}`, { signal: this.controller.signal });
      if (generation !== this.generation) return;
      for (const image of page.images) this.list.append(this.tile(image));
      this.count += page.images.length;
      this.cursor = page.next_cursor;
      this.done = !page.next_cursor;
      this.status.textContent = this.count
        ? `${plural(this.count, "image")}${this.done ? "" : ", more below"}`
        : "No images match.";
    } catch (error) {
      if (generation !== this.generation || error.name === "AbortError") return;
      this.done = true;
      this.status.textContent = `Could not list images: ${error.message}`;
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.list.setAttribute("aria-busy", "false");
      }
    }
    // The observer fires on changes only: if the end is still in view, the screen is not full yet.
    if (generation === this.generation && !this.done && this.inView()) this.more();
  }

  inView() {
    const top = this.sentinel.getBoundingClientRect().top;
    return top < window.innerHeight + parseInt(AHEAD, 10);
  }

  tile(image) {
    const item = document.createElement("li");
    item.className = "tile";
    item.dataset.id = image.image_id;
    item.dataset.visibility = image.visibility;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "thumb";
    const img = document.createElement("img");
    img.src = image.thumbnail_url;
    img.alt = altText(image);
    img.loading = "lazy";
    img.decoding = "async";
    // Reserve the thumbnail's box (256 px on its long side) so the grid does not jump.
    const scale = 256 / Math.max(image.width, image.height, 1);
    img.width = Math.max(1, Math.round(image.width * Math.min(1, scale)));
    img.height = Math.max(1, Math.round(image.height * Math.min(1, scale)));
    open.append(img);
    open.addEventListener("click", () => this.onOpen(image, open));
    const caption = document.createElement("div");
    caption.className = "caption";
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = altText(image);
    const facts = document.createElement("span");
    facts.className = "facts";
    const owner = document.createElement("span");
    owner.className = "owner";
    owner.textContent = image.user_id;
    const views = document.createElement("span");
    views.className = "views";
    views.textContent = plural(image.access_count, "view");
    facts.append(owner, views);
    caption.append(title, facts);
    if (image.visibility === "private") {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "private";
      open.append(badge);
    }
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.className = "pick";
    pick.hidden = !this.selectable;
    pick.checked = this.selected.has(image.image_id);
    item.classList.toggle("selected", pick.checked);
    pick.setAttribute("aria-label", `Select ${altText(image)}`);
    pick.addEventListener("change", () => {
      if (pick.checked) this.selected.add(image.image_id);
      else this.selected.delete(image.image_id);
      item.classList.toggle("selected", pick.checked);
      this.onSelection(this.selected);
    });
    item.append(open, caption, pick);
    return item;
  }

  setSelectable(selectable) {
    this.selectable = selectable;
    for (const pick of this.list.querySelectorAll(".pick")) pick.hidden = !selectable;
  }

  clearSelection() {
    for (const pick of this.list.querySelectorAll(".pick:checked")) {
      pick.checked = false;
      pick.closest(".tile").classList.remove("selected");
    }
    this.selected.clear();
    this.onSelection(this.selected);
  }

  // After an edit: the tile shows the new metadata, still selected if it was. A PATCH answer has
  // no thumbnail_url; the old one stays right unless the visibility changed: a public image's is
  // a plain URL, which a private image no longer answers to anyone without its key, so the view
  // of the same rendition (GET /images/{id} with the thumbnail's parameters) signs a new one.
  async replace(image) {
    const find = () => this.list.querySelector(`[data-id="${CSS.escape(image.image_id)}"]`);
    const old = find();
    if (!old) return;
    const previous = new URL(old.querySelector("img").src);
    let thumbnail = image.thumbnail_url ?? previous.href;
    if (!image.thumbnail_url && old.dataset.visibility !== image.visibility) {
      const rendition = {};
      for (const name of RENDITION_PARAMS) {
        if (previous.searchParams.has(name)) rendition[name] = previous.searchParams.get(name);
      }
      try {
        thumbnail = (await api(`/images/${encodeURIComponent(image.image_id)}${query(rendition)}`)).url;
      } catch {
        // Keep the old URL: the tile may show a broken image until the next listing.
      }
    }
    find()?.replaceWith(this.tile({ ...image, thumbnail_url: thumbnail }));
  }

  remove(ids) {
    for (const id of ids) {
      const tile = this.list.querySelector(`[data-id="${CSS.escape(id)}"]`);
      if (this.selected.delete(id)) this.onSelection(this.selected);
      if (!tile) continue;
      tile.remove();
      this.count -= 1;
    }
    this.status.textContent = this.count ? plural(this.count, "image") : "No images match.";
  }
}
