// The route lives in the URL's query, so every view and filter can be bookmarked and shared and
// the backend's static mount (which only knows `/`) serves any of them: `/?view=rep&range=28d`.

import { useEffect, useState } from "preact/hooks";

export const VIEWS = [
  "rep",
  "manager",
  "executive",
  "calibration",
  "reviews",
  "policies",
  "service",
  // sections of a view, named by the links in e-mailed reports and alert e-mails
  "coaching",
  "alerts",
  "labels",
  "prompts",
  "strategy",
] as const;
export type ViewName = (typeof VIEWS)[number];

/** The global id (Relay, as Strawberry encodes it) of a database id: base64("Team:3"). */
export function globalId(type: "Team" | "Agent" | "Alert" | "Thread", id: string): string {
  return /^\d+$/.test(id) ? btoa(`${type}:${id}`) : id;
}

export type Filters = {
  /** `7d`, `28d`, `90d` (ending today, UTC) or `YYYY-MM-DD..YYYY-MM-DD`. */
  range: string;
  team: string | null;
  agent: string | null;
  actionType: string | null;
};

export type Route = Filters & {
  view: ViewName | null;
  /** An alert to open and highlight (global id; `?alert=12` from an e-mail is converted). */
  alert: string | null;
  /** The thread open in the review queue (global id). */
  thread: string | null;
};

export const DEFAULT_RANGE = "28d";
export const RANGE_PRESETS = ["7d", "28d", "90d"] as const;

const RELATIVE = /^(\d{1,3})d$/;
const ABSOLUTE = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/;

export function isRange(value: string): boolean {
  const relative = RELATIVE.exec(value);
  if (relative) return Number(relative[1]) >= 1 && Number(relative[1]) <= 400;
  const absolute = ABSOLUTE.exec(value);
  return absolute !== null && absolute[1]! <= absolute[2]!;
}

function optionalId(type: Parameters<typeof globalId>[0], value: string | null): string | null {
  return value ? globalId(type, value) : null;
}

export function parseRoute(search: string): Route {
  const params = new URLSearchParams(search);
  const view = params.get("view");
  const range = params.get("range");
  return {
    view: VIEWS.includes(view as ViewName) ? (view as ViewName) : null,
    range: range && isRange(range) ? range : DEFAULT_RANGE,
    // e-mails link with database ids (`?team=3`); the API wants global ids
    team: optionalId("Team", params.get("team")),
    agent: optionalId("Agent", params.get("agent")),
    actionType: params.get("actionType") || null,
    alert: optionalId("Alert", params.get("alert")),
    thread: optionalId("Thread", params.get("thread")),
  };
}

/** The query string of a route; the default range and empty filters are left out. */
export function routeSearch(route: Route): string {
  const params = new URLSearchParams();
  if (route.view) params.set("view", route.view);
  if (route.range !== DEFAULT_RANGE) params.set("range", route.range);
  if (route.team) params.set("team", route.team);
  if (route.agent) params.set("agent", route.agent);
  if (route.actionType) params.set("actionType", route.actionType);
  if (route.alert) params.set("alert", route.alert);
  if (route.thread) params.set("thread", route.thread);
  const text = params.toString();
  return text ? `?${text}` : "";
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The first and last day (UTC, inclusive) a range stands for, `today` being the last by default. */
export function rangeDays(range: string, today: Date = new Date()): { from: string; to: string } {
  const absolute = ABSOLUTE.exec(range);
  if (absolute) return { from: absolute[1]!, to: absolute[2]! };
  const days = Number(RELATIVE.exec(range)?.[1] ?? RELATIVE.exec(DEFAULT_RANGE)![1]);
  const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
  from.setUTCDate(from.getUTCDate() - (days - 1));
  return { from: isoDay(from), to: isoDay(today) };
}

const ROUTE_CHANGED = "routechange";

export function currentRoute(): Route {
  return parseRoute(location.search);
}

/** Moves to another route (a new history entry unless `replace`), keeping the hash. */
export function navigate(next: Partial<Route>, options: { replace?: boolean } = {}): void {
  const route = { ...currentRoute(), ...next };
  const url = location.pathname + routeSearch(route) + location.hash;
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event(ROUTE_CHANGED));
}

/** The current route, re-rendered on back/forward and on navigate(). */
export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener("popstate", update);
    window.addEventListener(ROUTE_CHANGED, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(ROUTE_CHANGED, update);
    };
  }, []);
  return route;
}
