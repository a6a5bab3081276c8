/* The studio's JSON API. The access token (when the studio has one) rides along as the cookie the
   printed ?token= link set, so requests need nothing else. An error is thrown with the server's
   one-line message. */

export async function api(path, opts = {}) {
  const init = { method: opts.method || (opts.body || opts.form ? "POST" : "GET"), headers: {} };
  if (opts.body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(opts.body); }
  if (opts.form) init.body = opts.form;
  const r = await fetch(path, init);
  const type = r.headers.get("content-type") || "";
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    if (type.includes("json")) { const j = await r.json(); msg = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); }
    throw new Error(msg);
  }
  if (opts.raw) return r;
  return type.includes("json") ? r.json() : r;
}
