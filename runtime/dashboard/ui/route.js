// The address's hash as a route: #/runs/<id>?action=fs.*&event=12 -> { parts: ["runs", id], query }.

/** The current route: the hash's path parts and its query. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts: parts.length ? parts : ["processes"], query: new URLSearchParams(query) };
}

/** Changes the hash's query without showing the view again (the view already shows it). */
export function setQuery(params) {
  const route = currentRoute();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") route.query.delete(k);
    else route.query.set(k, String(v));
  }
  const qs = route.query.toString();
  const next = `#/${route.parts.map(encodeURIComponent).join("/")}${qs ? `?${qs}` : ""}`;
  if (next !== location.hash) history.replaceState(null, "", next);
}
