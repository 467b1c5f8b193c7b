// Calibration of one action type for the scope in the URL (an agent, a team, or everything the
// viewer sees): the reliability diagram with each bin's interval and the recalibration map drawn
// over it, the verdict with its evidence, and the calibration history (each week's observed /
// expected ratio with its 95 % interval). `calibrationChanged`
// events re-read it without a reload.

import { useCallback, useState } from "preact/hooks";
import { graphql } from "../../gql";
import { useSubscription } from "../../api/live";
import { useQuery, type QueryState } from "../../api/use-query";
import { ChartFigure } from "../../charts/figure";
import { decimal, integer, label, parseDay, percent, pValue } from "../../charts/format";
import { reliabilityChart } from "../../charts/reliability";
import { trendChart } from "../../charts/trend";
import { TimeZoom } from "../../components/time-zoom";
import { Empty, QueryResult } from "../../components/status";
import { currentRoute, navigate, rangeDays, routeSearch, type Route } from "../../router";
import type { Viewer } from "../../viewer";
import type { CalibrationMaturingQuery } from "../../gql/graphql";

export const CalibrationDocument = graphql(`
  query Calibration($actionType: String!, $agent: ID, $team: ID, $from: Date, $to: Date) {
    calibration(actionType: $actionType, agentId: $agent, teamId: $team, from: $from, to: $to) {
      actionType
      from
      to
      maturedUntil
      sampleSize
      maturingOutcomes
      brierScore
      logLoss
      ece
      mce
      debiasedError
      spiegelhalter {
        z
        pValue
      }
      observedExpected {
        observed
        expected
        ratio
        lower
        upper
        direction
      }
      hosmerLemeshow {
        statistic
        degreesOfFreedom
        pValue
      }
      verdict {
        kind
        actionable
        sampleSize
        z
        pValue
        observedExpected
        observedExpectedLower
        observedExpectedUpper
        debiasedError
        reason
      }
      monitor {
        eValue
        anytimePValue
        confirmed
        outcomes
        fedThrough
      }
      drift {
        statistic
        threshold
        changedOn
        foundOn
        changes
      }
      reliabilityCurve {
        lower
        upper
        count
        meanConfidence
        observedRate
        wilsonLower
        wilsonUpper
      }
      recalibration {
        method
        sampleSize
        points {
          raw
          calibrated
        }
      }
    }
    calibrationHistory(actionType: $actionType, agentId: $agent, teamId: $team, from: $from, to: $to, interval: WEEK) {
      periodStart
      sampleSize
      debiasedError
      brierScore
      observedExpected
      observedExpectedLower
      observedExpectedUpper
      verdict
    }
  }
`);

/**
 * The same scope's calibration on matured outcomes only, as the dashboards judge it, with how
 * many outcomes are still maturing and when a verdict can be expected (`CalibrationAccuracy`).
 * One scope at a time: an agent (a rep's own without one), a team, or the organisation.
 */
export const CalibrationMaturingDocument = graphql(`
  query CalibrationMaturing(
    $agent: ID!
    $team: ID!
    $from: Date
    $to: Date
    $byAgent: Boolean!
    $byTeam: Boolean!
    $byOrganisation: Boolean!
  ) {
    repDashboard(agentId: $agent, from: $from, to: $to) @include(if: $byAgent) {
      metrics {
        calibration {
          ...MaturingCalibrationFields
        }
      }
    }
    teamDashboard(teamId: $team, from: $from, to: $to) @include(if: $byTeam) {
      metrics {
        calibration {
          ...MaturingCalibrationFields
        }
      }
    }
    executiveDashboard(from: $from, to: $to) @include(if: $byOrganisation) {
      metrics {
        calibration {
          ...MaturingCalibrationFields
        }
      }
    }
  }
  fragment MaturingCalibrationFields on CalibrationAccuracy {
    actionType
    verdict
    verdictReason
    maturedOutcomes
    maturingOutcomes
    verdictExpectedBy
  }
`);

export const CalibrationChangedDocument = graphql(`
  subscription CalibrationChanged($actionType: String, $agent: ID) {
    calibrationChanged(actionType: $actionType, agentId: $agent) {
      version
      stream
      scope
      actionType
      verdict
      previousVerdict
      sampleSize
    }
  }
`);

function Reliability({ bins, map }: { bins: { count: number; meanConfidence?: number | null; observedRate?: number | null; wilsonLower?: number | null; wilsonUpper?: number | null }[]; map: { raw: number; calibrated: number }[] }) {
  const draw = useCallback(
    (width: number) =>
      reliabilityChart(
        bins.map((b) => ({
          meanConfidence: b.meanConfidence ?? null,
          observedRate: b.observedRate ?? null,
          lower: b.wilsonLower ?? null,
          upper: b.wilsonUpper ?? null,
          count: b.count,
        })),
        { width, map },
      ),
    [bins, map],
  );
  return (
    <ChartFigure
      title="Reliability diagram"
      description="Observed success rate against stated confidence per bin (dot size: outcomes; bar: Wilson 95 % interval). Dashed: perfect calibration. Orange: the recalibration map (raw to calibrated confidence)."
      draw={draw}
    />
  );
}

type HistoryPoint = {
  periodStart: string;
  sampleSize: number;
  debiasedError?: number | null;
  observedExpected?: number | null;
  observedExpectedLower?: number | null;
  observedExpectedUpper?: number | null;
  verdict: string;
};

/** Each week's observed / expected ratio with its 95 % interval (the API's, per week) as a band
 * around a line, 1 (calibrated) marked; the debiased error and the verdict in the tooltip and
 * the table. */
function History({ points }: { points: HistoryPoint[] }) {
  const draw = useCallback(
    (width: number) =>
      trendChart(
        points.map((p) => ({
          at: parseDay(p.periodStart),
          value: p.observedExpected ?? null,
          lower: p.observedExpectedLower ?? null,
          upper: p.observedExpectedUpper ?? null,
          notes: [
            `debiased error ${decimal(p.debiasedError)}`,
            `${integer(p.sampleSize)} outcomes`,
            `verdict: ${label(p.verdict.toLowerCase())}`,
          ],
        })),
        {
          width,
          height: 220,
          yLabel: "Observed / expected",
          format: (v) => decimal(v, 2),
          reference: 1,
          onBrush: ({ from, to }) => navigate({ range: `${from.toISOString().slice(0, 10)}..${to.toISOString().slice(0, 10)}` }),
        },
      ),
    [points],
  );
  if (points.length === 0) return <Empty>No week in this range has outcomes yet.</Empty>;
  return (
    <>
      <ChartFigure
        title="Calibration history by week"
        description="Each week's successes over the successes its confidence predicted (observed / expected; 1, the dashed line, is calibrated; below 1 overconfident), with its 95 % interval as a band. Drag across the chart to pick a range, or zoom with the buttons below it."
        draw={draw}
      />
      <TimeZoom what="Calibration history by week" minDays={28} />
      <table class="sr-only">
        <caption>Calibration history by week (data)</caption>
        <thead>
          <tr>
            <th scope="col">Week of</th>
            <th scope="col">Observed / expected</th>
            <th scope="col">95 % interval</th>
            <th scope="col">Debiased error</th>
            <th scope="col">Outcomes</th>
            <th scope="col">Verdict</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr>
              <th scope="row">{p.periodStart}</th>
              <td>{decimal(p.observedExpected, 2)}</td>
              <td>
                {p.observedExpectedLower != null && p.observedExpectedUpper != null
                  ? `${decimal(p.observedExpectedLower, 2)} to ${decimal(p.observedExpectedUpper, 2)}`
                  : "n/a"}
              </td>
              <td>{decimal(p.debiasedError)}</td>
              <td>{integer(p.sampleSize)}</td>
              <td>{label(p.verdict.toLowerCase())}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** A link to the range as long as the one shown, ending on the last matured day. */
function MaturedSpan({ from, to, maturedUntil }: { from: string; to: string; maturedUntil: string }) {
  const span = parseDay(to).getTime() - parseDay(from).getTime();
  const start = new Date(parseDay(maturedUntil).getTime() - span).toISOString().slice(0, 10);
  return (
    <a
      href={routeSearch({ ...currentRoute(), range: `${start}..${maturedUntil}` })}
      onClick={(event) => {
        event.preventDefault();
        navigate({ range: `${start}..${maturedUntil}` });
      }}
    >
      Judge the same span ending {maturedUntil}
    </a>
  );
}

type MaturingState = QueryState<CalibrationMaturingQuery>;

/** The dashboards' verdict on matured outcomes, and how many are still maturing (not judged). */
function MaturedOnly({ state, actionType }: { state: MaturingState; actionType: string }) {
  if (state.status !== "done") return null;
  const d = state.data;
  const all = (d.repDashboard ?? d.teamDashboard ?? d.executiveDashboard)?.metrics.calibration ?? [];
  const c = all.find((x) => x.actionType === actionType);
  if (!c) return null;
  return (
    <section aria-labelledby="matured-only">
      <h4 id="matured-only">Matured outcomes only</h4>
      <p>
        As the dashboards judge it, on outcomes whose windows have all closed: {label(c.verdict)},{" "}
        {integer(c.maturedOutcomes)} matured outcomes judged
        {c.maturingOutcomes ? `, ${integer(c.maturingOutcomes)} still maturing (not judged)` : ""}
        {c.verdictExpectedBy ? `, verdict expected by ${c.verdictExpectedBy}` : ""}. {c.verdictReason}
      </p>
    </section>
  );
}

export function CalibrationView({ route, viewer }: { route: Route; viewer: Viewer }) {
  const actionType = route.actionType ?? "email";
  const [tick, setTick] = useState(0);
  const [announcement, setAnnouncement] = useState("");
  const variables = { actionType, agent: route.agent, team: route.agent ? null : route.team, ...rangeDays(route.range) };
  const state = useQuery(CalibrationDocument, variables, { refresh: tick });
  const agentId = route.agent ?? (!route.team && viewer.role === "REP" ? (viewer.agents[0]?.id ?? null) : null);
  const byAgent = !!agentId;
  const byTeam = !byAgent && !!route.team;
  const byOrganisation = !byAgent && !byTeam && viewer.seesWholeOrganization;
  const maturing = useQuery(
    CalibrationMaturingDocument,
    { agent: agentId ?? "", team: route.team ?? "", ...rangeDays(route.range), byAgent, byTeam, byOrganisation },
    { refresh: tick, skip: !byAgent && !byTeam && !byOrganisation },
  );
  useSubscription(
    CalibrationChangedDocument,
    { actionType, agent: route.agent },
    (data) => {
      const e = data.calibrationChanged;
      setAnnouncement(
        `Calibration changed (${e.scope}, ${label(e.actionType)}): ${label(e.previousVerdict ?? "none")} to ${label(e.verdict)} on ${integer(e.sampleSize)} outcomes. Updated.`,
      );
      setTick((t) => t + 1);
    },
    () => setTick((t) => t + 1),
  );
  const scope = route.agent
    ? (viewer.agents.find((a) => a.id === route.agent)?.name ?? "the agent")
    : route.team
      ? `team ${viewer.agents.find((a) => a.team?.id === route.team)?.team?.name ?? ""}`
      : viewer.role === "REP"
        ? "your agent"
        : viewer.seesWholeOrganization
          ? "the organisation"
          : "your teams";
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title">
        Calibration: {label(actionType)}, {scope}
      </h2>
      <p role="status" aria-live="polite" class="mutation-done">
        {announcement}
      </p>
      <QueryResult state={state} what="calibration">
        {({ calibration: c, calibrationHistory }) => (
          <>
            <p class="subtitle">
              Actions of {c.from} to {c.to}: {integer(c.sampleSize)} outcomes of matured days judged
              {c.maturedUntil < c.to ? ` (days up to ${c.maturedUntil}; later ones are still maturing)` : ""}
              {c.maturingOutcomes ? `, ${integer(c.maturingOutcomes)} decided early and not judged yet` : ""}. Pick the action
              type, team or agent above.{" "}
              {c.maturedUntil < c.to ? <MaturedSpan from={c.from} to={c.to} maturedUntil={c.maturedUntil} /> : null}
            </p>
            <h3>Verdict: {label(c.verdict.kind.toLowerCase())}</h3>
            <p>
              {c.verdict.reason} {c.verdict.actionable ? "It calls for recalibration." : "No action is called for."}
            </p>
            <MaturedOnly state={maturing} actionType={actionType} />
            <table>
              <caption>The verdict's evidence</caption>
              <tbody>
                <tr>
                  <th scope="row">Outcomes judged</th>
                  <td>{integer(c.verdict.sampleSize)}</td>
                </tr>
                <tr>
                  <th scope="row">Debiased calibration error</th>
                  <td>{decimal(c.verdict.debiasedError)}</td>
                </tr>
                <tr>
                  <th scope="row">Observed / expected successes</th>
                  <td>
                    {decimal(c.verdict.observedExpected)} (95 % CI {decimal(c.verdict.observedExpectedLower)} to{" "}
                    {decimal(c.verdict.observedExpectedUpper)}); {decimal(c.observedExpected?.observed, 1)} observed,{" "}
                    {decimal(c.observedExpected?.expected, 1)} expected;{" "}
                    {c.observedExpected ? label(c.observedExpected.direction.toLowerCase()) : ""}
                  </td>
                </tr>
                {c.monitor ? (
                  <tr>
                    <th scope="row">Anytime-valid test</th>
                    <td>
                      e-value {decimal(c.monitor.eValue, 1)} (anytime p = {pValue(c.monitor.anytimePValue)}):{" "}
                      {c.monitor.confirmed ? "miscalibration confirmed" : "not confirmed (needs 20)"};{" "}
                      {integer(c.monitor.outcomes)} outcomes in order
                      {c.monitor.fedThrough ? `, matured days up to ${c.monitor.fedThrough}` : ", none fed yet"}
                    </td>
                  </tr>
                ) : null}
                {c.drift ? (
                  <tr>
                    <th scope="row">Change detector</th>
                    <td>
                      {c.drift.changedOn
                        ? `changed on ${c.drift.changedOn} (found with the outcomes of ${c.drift.foundOn}): its map is refitted from that day, leaning on its map before`
                        : "no change found in the trailing window"}
                      ; statistic {decimal(c.drift.statistic, 1)} of {integer(c.drift.threshold)}
                      {c.drift.changes > 1 ? `; ${integer(c.drift.changes)} changes found so far` : ""}
                    </td>
                  </tr>
                ) : null}
                <tr>
                  <th scope="row">Spiegelhalter's Z</th>
                  <td>
                    {decimal(c.verdict.z, 2)} (p = {pValue(c.verdict.pValue)})
                  </td>
                </tr>
                <tr>
                  <th scope="row">Hosmer–Lemeshow</th>
                  <td>
                    {c.hosmerLemeshow
                      ? `χ² = ${decimal(c.hosmerLemeshow.statistic, 2)}, df = ${c.hosmerLemeshow.degreesOfFreedom}, p = ${pValue(c.hosmerLemeshow.pValue)}`
                      : "n/a"}
                  </td>
                </tr>
                <tr>
                  <th scope="row">Brier score / log loss</th>
                  <td>
                    {decimal(c.brierScore)} / {decimal(c.logLoss)}
                  </td>
                </tr>
                <tr>
                  <th scope="row">ECE / MCE</th>
                  <td>
                    {decimal(c.ece)} / {decimal(c.mce)}
                  </td>
                </tr>
                <tr>
                  <th scope="row">Recalibration map</th>
                  <td>
                    {label(c.recalibration.method.toLowerCase())}, fitted on {integer(c.recalibration.sampleSize)} outcomes
                  </td>
                </tr>
              </tbody>
            </table>
            <div class="grid2">
              <Reliability bins={c.reliabilityCurve} map={c.recalibration.points} />
              <table>
                <caption>Reliability bins (data)</caption>
                <thead>
                  <tr>
                    <th scope="col">Confidence bin</th>
                    <th scope="col">Outcomes</th>
                    <th scope="col">Mean confidence</th>
                    <th scope="col">Observed (95 % CI)</th>
                  </tr>
                </thead>
                <tbody>
                  {c.reliabilityCurve
                    .filter((b) => b.count > 0)
                    .map((b) => (
                      <tr>
                        <th scope="row">
                          {percent(b.lower)} to {percent(b.upper)}
                        </th>
                        <td>{integer(b.count)}</td>
                        <td>{percent(b.meanConfidence)}</td>
                        <td>
                          {percent(b.observedRate)} ({percent(b.wilsonLower)} to {percent(b.wilsonUpper)})
                        </td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
            <History points={calibrationHistory} />
          </>
        )}
      </QueryResult>
    </section>
  );
}
