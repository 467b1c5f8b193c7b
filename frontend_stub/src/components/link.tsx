// An ordinary link (keyboard, middle-click and "open in new tab" work) that moves within the
// app without reloading it.

import type { ComponentChildren } from "preact";
import { navigate, routeSearch, currentRoute, type Route } from "../router";

export function RouteLink({ to, children, current }: { to: Partial<Route>; children: ComponentChildren; current?: boolean }) {
  const href = routeSearch({ ...currentRoute(), ...to }) || "?";
  return (
    <a
      href={href}
      aria-current={current ? "page" : undefined}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
