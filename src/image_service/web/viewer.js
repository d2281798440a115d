// One image in a modal dialog: the full-size image, its metadata, a signed link with a chosen
// expiry, download, edit (PATCH) and delete. <dialog>.showModal() keeps the focus inside and
// closes on Escape; the focus goes back to the tile that opened it.

import { api, query, SIGNED_BY, tagList } from "./api.js";
import { altText } from "./grid.js";

const $ = (id) => document.getElementById(id);

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export class Viewer {
  constructor({ canEdit, onChanged, onDeleted }) {
    this.dialog = $("viewer");
    this.canEdit = canEdit;
    this.onChanged = onChanged;
    this.onDeleted = onDeleted;
    this.form = $("edit-form");
    this.error = $("viewer-error");
    $("link-note").hidden = SIGNED_BY !== "s3";
    this.dialog.querySelector("[data-close]").addEventListener("click", () => this.dialog.close());
    // A click on the backdrop (outside the dialog's box) closes it too.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
    this.dialog.addEventListener("close", () => {
      $("viewer-image").removeAttribute("src");
      this.opener?.focus();
    });
    $("link-copy").addEventListener("click", () => this.copyLink());
    $("download").addEventListener("click", () => this.download());
    $("delete").addEventListener("click", () => this.remove());
    // Typing may start before the view's answer is in: that answer must not overwrite it.
    this.edited = false;
    this.form.addEventListener("input", () => {
      this.edited = true;
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  async open(image, opener) {
    this.opener = opener;
    this.image = image;
    this.edited = false;
    this.error.textContent = "";
    $("link-output").hidden = true;
    this.show(image);
    // The thumbnail at once, then the full-size image over it when its signed URL is known.
    $("viewer-image").src = image.thumbnail_url;
    if (!this.dialog.open) this.dialog.showModal();
    try {
      const view = await api(`/images/${image.image_id}`);
      if (this.image !== image) return; // another image was opened meanwhile
      this.image = view.metadata;
      this.show(view.metadata, { fill: !this.edited });
      $("viewer-image").src = view.url;
    } catch (error) {
      this.error.textContent = error.message;
    }
  }

  show(image, { fill = true } = {}) {
    $("viewer-title").textContent = altText(image);
    $("viewer-image").alt = altText(image);
    const rows = [
      ["Owner", image.user_id],
      ["Name", image.name],
      ["File", image.filename],
      ["Description", image.description],
      ["Tags", image.tags.join(", ")],
      ["Category", image.category],
      ["Visibility", image.visibility],
      ["Size", `${image.width} × ${image.height} ${image.format}, ${sizeText(image.size)}`],
      ["Views", String(image.access_count)],
      ["Uploaded", new Date(image.created_at).toLocaleString()],
    ];
    const list = $("viewer-meta");
    list.replaceChildren();
    for (const [name, value] of rows) {
      if (!value) continue;
      const term = document.createElement("dt");
      term.textContent = name;
      const detail = document.createElement("dd");
      detail.textContent = value;
      detail.dataset.field = name.toLowerCase();
      list.append(term, detail);
    }
    const editable = this.canEdit(image);
    this.form.hidden = !editable;
    if (editable && fill) {
      const f = this.form.elements;
      f.title.value = image.title;
      f.name.value = image.name;
      f.description.value = image.description;
      f.tags.value = image.tags.join(", ");
      f.category.value = image.category ?? "";
      f.visibility.value = image.visibility;
    }
  }

  async signedUrl(params) {
    const view = await api(`/images/${this.image.image_id}${query(params)}`);
    return view.url;
  }

  async copyLink() {
    this.error.textContent = "";
    try {
      const url = await this.signedUrl({ expires_in: $("link-expiry").value });
      const output = $("link-output");
      output.value = url;
      output.hidden = false;
      output.select();
      // The clipboard needs a secure context (https or 127.0.0.1); the selected field is the fallback.
      await navigator.clipboard?.writeText(url).catch(() => {});
    } catch (error) {
      this.error.textContent = error.message;
    }
  }

  async download() {
    this.error.textContent = "";
    try {
      const link = document.createElement("a");
      link.href = await this.signedUrl({ download: "true" });
      link.rel = "noopener";
      document.body.append(link);
      link.click();
      link.remove();
    } catch (error) {
      this.error.textContent = error.message;
    }
  }

  async save() {
    this.error.textContent = "";
    const f = this.form.elements;
    const wanted = {
      title: f.title.value.trim(),
      name: f.name.value.trim(),
      description: f.description.value.trim(),
      tags: tagList(f.tags.value),
      category: f.category.value.trim() || null,
      visibility: f.visibility.value,
    };
    // Only what changed: a PATCH of an unchanged field would still rewrite its index entries.
    const changes = Object.fromEntries(
      Object.entries(wanted).filter(([name, value]) => JSON.stringify(value) !== JSON.stringify(this.image[name])),
    );
    if (!Object.keys(changes).length) {
      this.error.textContent = "Nothing to save.";
      return;
    }
    try {
      const answer = await api(`/images/${this.image.image_id}`, { method: "PATCH", body: changes });
      this.image = answer.metadata;
      this.edited = false;
      this.show(answer.metadata);
      this.onChanged(answer.metadata);
      this.error.textContent = "Saved.";
    } catch (error) {
      this.error.textContent = error.message;
    }
  }

  async remove() {
    if (!confirm(`Delete “${altText(this.image)}”? This cannot be undone.`)) return;
    try {
      await api(`/images/${this.image.image_id}`, { method: "DELETE" });
      const id = this.image.image_id;
      this.opener = null; // its tile is gone
      this.dialog.close();
      this.onDeleted([id]);
    } catch (error) {
      this.error.textContent = error.message;
    }
  }
}
