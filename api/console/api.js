// The API as the console calls it: the bearer token from the session, problems as errors, downloads.

const KEY = "povreg.token";

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.rule = problem?.rule;
    this.problem = problem;
  }
}

function headers(extra = {}) {
  const out = { ...extra };
  if (token()) out.Authorization = `Bearer ${token()}`;
  return out;
}

export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") query.set(k, v);
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function get(path, params = {}) {
  const response = await fetch(url(path, params), { headers: headers() });
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  return response.json();
}

/** Saves a response body as a file: the name from Content-Disposition, else ``fallback``. */
async function save(response, fallback) {
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || fallback;
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return name;
}

/** A query URL's spreadsheet (format=xlsx). */
export async function downloadQuery(path, params, fallback) {
  return save(await fetch(url(path, { ...params, format: "xlsx" }), { headers: headers() }), fallback);
}

/** A table shown by the console, as a workbook made by the server (POST /v1/sheets). */
export async function downloadTable(title, name, query, sheets) {
  const response = await fetch("/v1/sheets", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ title, name, query, sheets }),
  });
  return save(response, `${name}.xlsx`);
}
