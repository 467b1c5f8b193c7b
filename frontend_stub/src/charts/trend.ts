// A time trend: a line over the points that have a value (a gap where one has none), an interval band where the API gives
// one, hollow dots for provisional points (still maturing) and a dashed rule where one has no value yet, a tooltip that follows the pointer,
// a click that drills down into the pointed period, and a brush that selects a time range.

import * as Plot from "@observablehq/plot";
import { brushX } from "d3-brush";
import { select } from "d3-selection";
import { day } from "./format";

export type TrendPoint = {
  at: Date;
  value: number | null;
  lower?: number | null;
  upper?: number | null;
  provisional?: boolean;
  /** Extra lines for the tooltip, e.g. "412 actions". */
  notes?: string[];
};

export type TrendOptions = {
  width: number;
  height?: number;
  yLabel: string;
  format: (value: number | null) => string;
  /** A person clicked the period under the pointer. */
  onSelect?: (point: TrendPoint) => void;
  /** A person brushed a time range (first and last day, inclusive). */
  onBrush?: (range: { from: Date; to: Date }) => void;
  yDomain?: [number, number];
  /** A value to mark with a dashed horizontal rule, e.g. 1 for a ratio where 1 is ideal. */
  reference?: number;
};

type PlotFigure = (SVGSVGElement | HTMLElement) & { value?: TrendPoint | null };

function tooltip(point: TrendPoint, format: TrendOptions["format"]): string {
  const lines = [`${day(point.at)}: ${format(point.value)}`];
  if (point.lower != null && point.upper != null) {
    lines.push(`95 % interval ${format(point.lower)} to ${format(point.upper)}`);
  }
  if (point.provisional) lines.push("provisional: outcomes still maturing");
  return [...lines, ...(point.notes ?? [])].join("\n");
}

export function trendChart(points: TrendPoint[], options: TrendOptions): Element {
  const withBand = points.filter((p) => p.lower != null && p.upper != null);
  const defined = points.filter((p) => p.value != null);
  const figure = Plot.plot({
    width: options.width,
    height: options.height ?? 280,
    marginLeft: 56,
    x: { type: "utc", label: null },
    y: { label: options.yLabel, grid: true, domain: options.yDomain, tickFormat: options.format, nice: true },
    ariaLabel: `${options.yLabel} over time`,
    marks: [
      Plot.areaY(withBand, { x: "at", y1: "lower", y2: "upper", fill: "var(--accent)", fillOpacity: 0.18 }),
      ...(options.reference != null ? [Plot.ruleY([options.reference], { stroke: "var(--muted)", strokeDasharray: "4,4" })] : []),
      Plot.lineY(points, { x: "at", y: "value", stroke: "var(--accent)", strokeWidth: 2 }),
      Plot.dot(defined, {
        x: "at",
        y: "value",
        r: 3,
        stroke: "var(--accent)",
        fill: (p: TrendPoint) => (p.provisional ? "var(--surface)" : "var(--accent)"),
      }),
      // provisional periods without a value yet: a dashed mark where the point will be
      Plot.ruleX(
        points.filter((p) => p.provisional && p.value == null),
        { x: "at", stroke: "var(--muted)", strokeDasharray: "2,4" },
      ),
      Plot.ruleX(
        points,
        Plot.pointerX({ x: "at", stroke: "var(--muted)", strokeDasharray: "3,3" }),
      ),
      Plot.tip(
        points,
        Plot.pointerX({ x: "at", y: (p: TrendPoint) => p.value ?? 0, title: (p: TrendPoint) => tooltip(p, options.format) }),
      ),
    ],
  }) as PlotFigure;

  // A drag that ends a brush also ends in a click: that click is not a drill-down.
  let brushedAt = 0;
  if (options.onBrush) {
    const onBrush = options.onBrush;
    addBrush(figure, (range) => {
      brushedAt = performance.now();
      onBrush(range);
    });
  }
  if (options.onSelect) {
    const onSelect = options.onSelect;
    figure.style.cursor = "pointer";
    figure.addEventListener("click", () => {
      if (performance.now() - brushedAt > 300 && figure.value) onSelect(figure.value);
    });
  }
  return figure;
}

/** A horizontal brush over the plot area; its extent is read back through Plot's x scale. */
function addBrush(figure: PlotFigure, onBrush: NonNullable<TrendOptions["onBrush"]>): void {
  const svg = figure instanceof SVGSVGElement ? figure : figure.querySelector("svg");
  const scale = (figure as unknown as { scale: (name: "x" | "y") => Plot.Scale | undefined }).scale;
  const x = scale?.("x");
  const y = scale?.("y");
  if (!svg || !x?.range || !y?.range || !x.invert) return;
  const invert = x.invert;
  const [left, right] = x.range as [number, number];
  const [bottom, top] = y.range as [number, number];
  const brush = brushX<unknown>()
    .extent([
      [left, top],
      [right, bottom],
    ])
    .filter((event: MouseEvent) => event.shiftKey || event.button === 0)
    .on("end", (event: { selection: [number, number] | null; sourceEvent?: Event }) => {
      if (!event.selection || !event.sourceEvent) return;
      const [from, to] = event.selection.map((px) => invert(px) as Date) as [Date, Date];
      layer.call(brush.move, null);
      if (to.getTime() - from.getTime() >= 86_400_000) onBrush({ from, to });
    });
  const layer = select(svg).append("g").attr("class", "brush").attr("aria-hidden", "true");
  layer.call(brush);
}
