// A reliability diagram: per confidence bin, the observed rate against the mean confidence,
// with the bin's interval as a vertical bar, dots sized by the bin's count, and the diagonal of
// perfect calibration. The numbers and intervals come from the API; nothing is computed here.

import * as Plot from "@observablehq/plot";
import { integer, percent } from "./format";

export type ReliabilityBin = {
  meanConfidence: number | null;
  observedRate: number | null;
  lower: number | null;
  upper: number | null;
  count: number;
};

export type MapPoint = { raw: number; calibrated: number };

/**
 * `map`: the recalibration map (raw to calibrated confidence), drawn over the diagram as a
 * stepped orange line: where it leaves the diagonal, the agent's confidence is corrected.
 */
export function reliabilityChart(
  bins: ReliabilityBin[],
  options: { width: number; height?: number; map?: MapPoint[] },
): Element {
  const drawn = bins.filter((b) => b.count > 0 && b.meanConfidence != null && b.observedRate != null);
  const size = Math.min(options.width, options.height ?? 360);
  return Plot.plot({
    width: size,
    height: size,
    marginLeft: 52,
    x: { domain: [0, 1], label: "Stated confidence", tickFormat: percent, grid: true },
    y: { domain: [0, 1], label: "Observed success rate", tickFormat: percent, grid: true },
    r: { range: [2, 10] },
    ariaLabel: "Reliability diagram: observed success rate by stated confidence",
    marks: [
      Plot.line(
        [
          [0, 0],
          [1, 1],
        ],
        { stroke: "var(--muted)", strokeDasharray: "4,4" },
      ),
      options.map?.length
        ? Plot.line(options.map, { x: "raw", y: "calibrated", stroke: "#8a4b00", strokeWidth: 2, curve: "linear" })
        : null,
      options.map?.length
        ? Plot.tip(
            options.map,
            Plot.pointerX({
              x: "raw",
              y: "calibrated",
              anchor: "bottom",
              title: (p: MapPoint) => `recalibration map: raw ${percent(p.raw)} means ${percent(p.calibrated)}`,
            }),
          )
        : null,
      Plot.ruleX(
        drawn.filter((b) => b.lower != null && b.upper != null),
        { x: "meanConfidence", y1: "lower", y2: "upper", stroke: "var(--accent)", strokeWidth: 2 },
      ),
      Plot.dot(drawn, { x: "meanConfidence", y: "observedRate", r: "count", fill: "var(--accent)" }),
      Plot.tip(
        drawn,
        Plot.pointer({
          x: "meanConfidence",
          y: "observedRate",
          title: (b: ReliabilityBin) =>
            [
              `stated ${percent(b.meanConfidence)}, observed ${percent(b.observedRate)}`,
              `95 % interval ${percent(b.lower)} to ${percent(b.upper)}`,
              `${integer(b.count)} outcomes`,
            ].join("\n"),
        }),
      ),
    ],
  });
}
