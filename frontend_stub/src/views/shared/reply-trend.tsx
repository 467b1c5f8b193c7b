// The reply-rate trend of a dashboard's points (daily or weekly), drawn with the shared trend
// chart: provisional periods are hollow and have no rate; clicking a period narrows the range to
// it, brushing narrows it to the brushed days, and the zoom buttons narrow or widen it.

import { useCallback } from "preact/hooks";
import { ChartFigure } from "../../charts/figure";
import { day, integer, parseDay, percent } from "../../charts/format";
import { trendChart, type TrendPoint } from "../../charts/trend";
import { Empty } from "../../components/status";
import { TimeZoom } from "../../components/time-zoom";
import { navigate } from "../../router";

export type ApiTrendPoint = {
  day: string;
  actions: number;
  replyOutcomes: number;
  replyRate?: number | null;
  /** The rate's 95 % interval and n, where the API gives it. */
  replyRateEstimate?: { lower?: number | null; upper?: number | null; count: number } | null;
  provisional: boolean;
  maturingReplies: number;
};

export function ReplyTrend({ points, period, title }: { points: ApiTrendPoint[]; period: "day" | "week"; title: string }) {
  const draw = useCallback(
    (width: number) =>
      trendChart(
        points.map(
          (p): TrendPoint => ({
            at: parseDay(p.day),
            value: p.replyRate ?? null,
            lower: p.replyRateEstimate?.lower ?? null,
            upper: p.replyRateEstimate?.upper ?? null,
            provisional: p.provisional,
            notes: [
              `${integer(p.actions)} actions`,
              `${integer(p.replyOutcomes)} decided replies${p.maturingReplies ? `, ${integer(p.maturingReplies)} maturing` : ""}`,
            ],
          }),
        ),
        {
          width,
          yLabel: "Reply rate",
          format: percent,
          onSelect: (point) => {
            const last = new Date(point.at);
            last.setUTCDate(last.getUTCDate() + (period === "week" ? 6 : 0));
            navigate({ range: `${day(point.at)}..${day(last)}` });
          },
          onBrush: ({ from, to }) => navigate({ range: `${day(from)}..${day(to)}` }),
        },
      ),
    [points, period],
  );
  if (points.every((p) => p.actions === 0)) {
    return <Empty>No actions in this range, so there is no trend to draw.</Empty>;
  }
  const provisional = points.filter((p) => p.provisional).length;
  return (
    <>
      <ChartFigure
      title={title}
      description={
        `Positive replies per decided reply, by ${period}, with its 95 % interval (shaded). Click a ${period} to focus on it; drag across the chart to pick a range, or zoom with the buttons below it.` +
        (provisional ? ` ${provisional} recent ${period === "week" ? "weeks are" : "days are"} still maturing: no rate yet (dashed).` : "")
      }
      draw={draw}
      />
      <TimeZoom what={title} minDays={period === "week" ? 28 : 7} />
      <table class="sr-only">
        <caption>{title} (data)</caption>
        <thead>
          <tr>
            <th scope="col">{period === "week" ? "Week of" : "Day"}</th>
            <th scope="col">Reply rate</th>
            <th scope="col">95 % interval</th>
            <th scope="col">Decided replies</th>
            <th scope="col">Maturing</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr key={p.day}>
              <th scope="row">{p.day}</th>
              <td>{p.provisional && p.replyRate == null ? "provisional" : percent(p.replyRate)}</td>
              <td>
                {p.replyRateEstimate?.lower != null
                  ? `${percent(p.replyRateEstimate.lower)} to ${percent(p.replyRateEstimate.upper)}`
                  : "n/a"}
              </td>
              <td>{integer(p.replyOutcomes)}</td>
              <td>{integer(p.maturingReplies)}</td>
              <td>{integer(p.actions)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
