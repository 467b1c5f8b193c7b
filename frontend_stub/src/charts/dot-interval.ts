// A dot-and-interval comparison: one row per item (agent, team, action type), its estimate as a
// dot and its interval as a bar, an optional reference line; clicking a row drills down into it.

import * as Plot from "@observablehq/plot";

export type IntervalRow = {
  key: string;
  label: string;
  value: number | null;
  lower: number | null;
  upper: number | null;
  /** The count the estimate rests on, for the tooltip. */
  n?: number | null;
  /** Its series' colour (a CSS colour), when rows belong to series (agent, people). */
  color?: string;
  /** Written in the row when it has no estimate (e.g. how many outcomes are still maturing). */
  note?: string;
};

export type DotIntervalOptions = {
  width: number;
  xLabel: string;
  format: (value: number | null) => string;
  reference?: number;
  onSelect?: (row: IntervalRow) => void;
};

type PlotFigure = Element & { value?: IntervalRow | null };

export function dotIntervalChart(rows: IntervalRow[], options: DotIntervalOptions): Element {
  const drawn = rows.filter((r) => r.value != null);
  const noted = rows.filter((r) => r.value == null && r.note);
  const figure = Plot.plot({
    width: options.width,
    height: 40 + 28 * Math.max(1, rows.length),
    marginLeft: Math.min(200, 12 + 7 * Math.max(...rows.map((r) => r.label.length), 4)),
    x: { label: options.xLabel, tickFormat: options.format, grid: true, nice: true },
    y: { label: null, domain: rows.map((r) => r.label) },
    ariaLabel: `${options.xLabel} by item, with intervals`,
    marks: [
      options.reference == null ? null : Plot.ruleX([options.reference], { stroke: "var(--muted)", strokeDasharray: "4,4" }),
      Plot.ruleY(
        drawn.filter((r) => r.lower != null && r.upper != null),
        { y: "label", x1: "lower", x2: "upper", stroke: (r: IntervalRow) => r.color ?? "var(--accent)", strokeWidth: 3, strokeOpacity: 0.5 },
      ),
      Plot.dot(drawn, { y: "label", x: "value", r: 4.5, fill: (r: IntervalRow) => r.color ?? "var(--accent)" }),
      Plot.text(noted, {
        y: "label",
        text: "note",
        frameAnchor: "left",
        textAnchor: "start",
        dx: 6,
        fill: (r: IntervalRow) => r.color ?? "currentColor",
        fontStyle: "italic",
      }),
      Plot.tip(
        drawn,
        Plot.pointerY({
          y: "label",
          x: "value",
          title: (r: IntervalRow) =>
            `${r.label}: ${options.format(r.value)}\n95 % interval ${options.format(r.lower)} to ${options.format(r.upper)}` +
            (r.n != null ? `\nn = ${r.n.toLocaleString("en")}` : ""),
        }),
      ),
    ],
  }) as PlotFigure;
  if (options.onSelect) {
    const onSelect = options.onSelect;
    (figure as HTMLElement).style.cursor = "pointer";
    figure.addEventListener("click", () => {
      if (figure.value) onSelect(figure.value);
    });
  }
  return figure;
}
