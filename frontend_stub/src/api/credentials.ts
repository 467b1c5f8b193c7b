// The bearer token a person may hand the dashboard in the URL (`#token=...`). It is kept in
// this module only: never in localStorage or sessionStorage, and it is removed from the
// address bar at once so it is not bookmarked, shared or left in the history. Without one,
// requests rely on the session cookie (same origin).

let token: string | null = null;

/** Takes `#token=...` out of the URL (keeping every other part of it) and remembers it. */
export function captureTokenFromHash(location: Location, history: History): void {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const found = params.get("token");
  if (!found) return;
  token = found;
  params.delete("token");
  const rest = params.toString();
  history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
}

export function bearerToken(): string | null {
  return token;
}

export function forgetToken(): void {
  token = null;
}
