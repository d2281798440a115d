// Uploads: files dropped or picked, each with its own progress bar and the server's answer.
// A file up to the inline limit is one multipart POST /images; a larger one takes the direct
// flow: POST /images/uploads, the bytes to the URL it answers (a signed PUT to the service, or
// a presigned POST form to S3), then POST /images/{id}/complete.

import { api, inlineLimit, send, tagList } from "./api.js";

const $ = (id) => document.getElementById(id);
// A few at a time: enough to keep the connection busy, few enough to show progress.
const PARALLEL = 3;
// Browsers leave File.type empty for types they do not know (HEIC, often AVIF).
const TYPES = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp",
  avif: "image/avif", heic: "image/heic", heif: "image/heif", tif: "image/tiff", tiff: "image/tiff",
};
const typeOf = (file) => file.type || TYPES[file.name.split(".").pop().toLowerCase()] || "application/octet-stream";

export class Uploader {
  constructor({ onUploaded }) {
    this.dialog = $("upload");
    this.form = $("upload-form");
    this.list = $("upload-list");
    this.onUploaded = onUploaded;
    this.queue = [];
    this.running = 0;
    this.stored = 0;
    const zone = $("drop-zone");
    for (const name of ["dragenter", "dragover"]) {
      zone.addEventListener(name, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      });
    }
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      this.add(event.dataTransfer.files);
    });
    // A file dropped beside the zone would otherwise replace the page with itself.
    for (const name of ["dragover", "drop"]) document.addEventListener(name, (event) => event.preventDefault());
    const picker = $("file-picker");
    picker.addEventListener("change", () => {
      this.add(picker.files);
      picker.value = "";
    });
    this.dialog.querySelector("[data-close]").addEventListener("click", () => this.dialog.close());
  }

  open() {
    this.dialog.showModal();
  }

  // Each file takes the title, tags and visibility in the form when it was added.
  add(files) {
    const f = this.form.elements;
    const metadata = { visibility: f.visibility.value };
    for (const name of ["title", "description", "category"]) {
      if (f[name].value.trim()) metadata[name] = f[name].value.trim();
    }
    if (tagList(f.tags.value).length) metadata.tags = tagList(f.tags.value);
    for (const file of files) this.queue.push({ file, metadata, row: this.row(file) });
    this.pump();
  }

  row(file) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute("aria-label", `Upload of ${file.name}`);
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = "waiting";
    item.append(name, bar, state);
    this.list.append(item);
    return { item, bar, state };
  }

  pump() {
    while (this.running < PARALLEL && this.queue.length) {
      const job = this.queue.shift();
      this.running += 1;
      this.run(job).finally(() => {
        this.running -= 1;
        this.pump();
        if (!this.running && !this.queue.length && this.stored) {
          this.stored = 0;
          this.onUploaded();
        }
      });
    }
  }

  async run({ file, metadata, row }) {
    row.state.textContent = "uploading";
    row.item.className = "busy";
    const onProgress = (fraction) => { row.bar.value = fraction; };
    try {
      const answer = file.size > inlineLimit()
        ? await this.direct(file, metadata, onProgress, row)
        : await this.inline(file, metadata, onProgress);
      row.bar.value = 1;
      row.state.textContent = "done";
      row.item.className = "done";
      row.item.dataset.imageId = answer.image_id;
      this.stored += 1;
    } catch (error) {
      row.state.textContent = error.message;
      row.item.className = "failed";
    }
  }

  inline(file, metadata, onProgress) {
    const body = new FormData();
    body.append("file", file, file.name);
    for (const [name, value] of Object.entries(metadata)) body.append(name, [].concat(value).join(","));
    return send("POST", "/images", { body, onProgress, withKey: true });
  }

  async direct(file, metadata, onProgress, row) {
    row.state.textContent = "uploading (direct)";
    const start = await api("/images/uploads", {
      method: "POST",
      body: { ...metadata, filename: file.name, content_type: typeOf(file), size: file.size },
    });
    const target = start.upload;
    if (target.fields) {
      // S3's presigned POST: the policy's fields first, the file last (S3 ignores what follows it).
      const body = new FormData();
      for (const [name, value] of Object.entries(target.fields)) body.append(name, value);
      body.append("file", file, file.name);
      await send(target.method, target.url, { body, onProgress });
    } else {
      await send(target.method, target.url, { body: file, headers: target.headers ?? {}, onProgress });
    }
    row.state.textContent = "checking";
    return api(`/images/${start.image_id}/complete`, { method: "POST" });
  }
}
