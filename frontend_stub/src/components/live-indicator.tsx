// Says whether live updates are flowing: connected, connecting, or reconnecting after a drop
// (the open view re-queries what it missed once connected again).

import { useLiveStatus } from "../api/live";

const TEXT = {
  idle: "Live updates: off",
  connecting: "Live updates: connecting…",
  live: "Live updates: on",
  reconnecting: "Live updates: connection lost, reconnecting…",
} as const;

export function LiveIndicator() {
  const status = useLiveStatus();
  return (
    <p class={`live live-${status}`} role="status" aria-live="polite">
      <span class="dot" aria-hidden="true" /> {TEXT[status]}
    </p>
  );
}
