// The HTTP API as the page uses it: the key from session storage in a header (never in a URL),
// errors as the server's own `error` text.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

export const ROOT = meta("api-root");
export const AUTH_MODE = meta("auth-mode") || "api-key";
// "s3" when signed links of originals are S3's (the AWS backend), "service" when the service's own.
export const SIGNED_BY = meta("signed-by") || "service";
const KEY_ITEM = "image-service.key";

// The server's inline limit; `?inline_limit=BYTES` in the page URL can only lower it (sends
// smaller files through the direct-upload flow: for tests, or a proxy with a tighter cap).
export function inlineLimit() {
  const server = Number(meta("inline-limit")) || Infinity;
  const asked = Number(new URLSearchParams(location.search).get("inline_limit"));
  return asked > 0 ? Math.min(server, asked) : server;
}

// "a, b,, c " -> ["a", "b", "c"]: how every tag field of the page is read.
export const tagList = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

export const session = {
  get key() { return sessionStorage.getItem(KEY_ITEM); },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_ITEM, value);
    else sessionStorage.removeItem(KEY_ITEM);
  },
};

// In IMAGE_SERVICE_AUTH=none mode there are no keys: the user names themself.
function authHeaders(key = session.key) {
  if (!key) return {};
  return AUTH_MODE === "none" ? { "x-user-id": key } : { "x-api-key": key };
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function errorOf(status, statusText, text) {
  const body = safeJson(text);
  if (body && typeof body.error === "string") return new ApiError(status, body.error);
  // Not ours: S3 answers XML, whose <Message> says what went wrong.
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return new ApiError(status, message || `${status} ${statusText || "error"}`);
}

export async function api(path, { method = "GET", body, signal, key } = {}) {
  const headers = { ...authHeaders(key) };
  const init = { method, headers, signal };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(ROOT + path, init);
  if (!response.ok) throw errorOf(response.status, response.statusText, await response.text());
  return response.json();
}

export const query = (params) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const one of [].concat(value)) if (one !== undefined && one !== null && one !== "") search.append(name, one);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
};

// An XMLHttpRequest, for its upload progress events (fetch has none). `url` is absolute or a
// path of the API; `onProgress(fraction)`.
export function send(method, url, { body, headers = {}, onProgress, withKey = false } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url.includes("://") ? url : ROOT + url);
    for (const [name, value] of Object.entries({ ...(withKey ? authHeaders() : {}), ...headers })) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(1);
        resolve(xhr.responseText ? safeJson(xhr.responseText) : null);
      } else {
        reject(errorOf(xhr.status, xhr.statusText, xhr.responseText));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network error: the upload did not reach the server")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "upload cancelled")));
    xhr.send(body);
  });
}

function safeJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}
