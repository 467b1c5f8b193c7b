// Zoom on the time axis of the trends: buttons (so the keyboard can zoom) that narrow or widen the
// URL's range around its middle, and reset it; the brush on the chart picks a range directly.

import { DEFAULT_RANGE, navigate, rangeDays, useRoute } from "../router";

const DAY_MS = 86_400_000;
const MAX_DAYS = 400;

const isoDay = (date: Date): string => date.toISOString().slice(0, 10);
const dayAt = (text: string): Date => new Date(`${text}T00:00:00Z`);
const addDays = (date: Date, days: number): Date => new Date(date.getTime() + days * DAY_MS);

/** The range `days` long around the middle of `from`..`to`, never past `today`. */
export function zoomedRange(from: string, to: string, days: number, today: string): string {
  const start = dayAt(from);
  const length = Math.round((dayAt(to).getTime() - start.getTime()) / DAY_MS) + 1;
  let first = addDays(start, Math.floor((length - days) / 2));
  let last = addDays(first, days - 1);
  const end = dayAt(today);
  if (last > end) {
    last = end;
    first = addDays(end, -(days - 1));
  }
  return `${isoDay(first)}..${isoDay(last)}`;
}

export function TimeZoom({ what, minDays = 7 }: { what: string; minDays?: number }) {
  const route = useRoute();
  const { from, to } = rangeDays(route.range);
  const today = rangeDays("1d").to;
  const days = Math.round((dayAt(to).getTime() - dayAt(from).getTime()) / DAY_MS) + 1;
  const zoomTo = (next: number) => navigate({ range: zoomedRange(from, to, next, today) });
  return (
    <div class="actions zoom" role="group" aria-label={`Zoom: ${what}`}>
      <button type="button" class="secondary" disabled={days <= minDays} onClick={() => zoomTo(Math.max(minDays, Math.ceil(days / 2)))}>
        Zoom in
      </button>
      <button type="button" class="secondary" disabled={days >= MAX_DAYS} onClick={() => zoomTo(Math.min(MAX_DAYS, days * 2))}>
        Zoom out
      </button>
      <button type="button" class="secondary" disabled={route.range === DEFAULT_RANGE} onClick={() => navigate({ range: DEFAULT_RANGE })}>
        Reset to the last {DEFAULT_RANGE.replace("d", " days")}
      </button>
      <span class="note" aria-live="polite">
        {days} {days === 1 ? "day" : "days"}: {from} to {to}
      </span>
    </div>
  );
}
