// A scope's key figures (an agent, a team, the organisation) as the API gives them in
// DashboardMetrics: a table of the headline numbers with their intervals and n, and agent
// versus human per action type as a chart and as a table.

import { useCallback, useState } from "preact/hooks";
import { graphql } from "../../gql";
import type { DashboardMetricsFieldsFragment } from "../../gql/graphql";
import { dotIntervalChart, type IntervalRow } from "../../charts/dot-interval";
import { ChartFigure } from "../../charts/figure";
import { decimal, integer, label, money, noDecidedYet, notCountedYet, percent, points, rateOrNotYet, rateWithInterval } from "../../charts/format";
import { navigate } from "../../router";

export const DashboardMetricsFields = graphql(`
  fragment DashboardMetricsFields on DashboardMetrics {
    interactions
    escalations {
      count
      critical
      rate {
        rate
        lower
        upper
        count
      }
    }
    responses {
      emails
      replies {
        rate
        lower
        upper
        count
        successes
      }
      pendingReplies
      maturingReplies
      meetingsBooked
      attendance {
        rate
        lower
        upper
        count
      }
      pendingAttendance
      maturingAttendance
      versusHuman {
        difference
        differenceLower
        differenceUpper
      }
    }
    dealImpact {
      progressed
      won
      lost
      winRate {
        rate
        lower
        upper
        count
      }
      amountWon {
        total {
          amount
          currency
        }
      }
    }
    feedback {
      count
      prompted
      meanScore
      thumbsUp {
        rate
        lower
        upper
        count
      }
    }
    cost {
      total {
        total {
          amount
          currency
        }
      }
      perInteraction {
        amount
        currency
      }
      tokens
    }
    ratesByActionType {
      actionType
      outcomeType
      resolved
      pending
      maturing
      agent {
        rate
        lower
        upper
        count
      }
      versusHuman {
        human {
          rate
          lower
          upper
          count
        }
        difference
        differenceLower
        differenceUpper
        pValue
      }
    }
    calibration {
      actionType
      outcomes
      maturedOutcomes
      maturingOutcomes
      debiasedError
      brier
      verdict
      verdictReason
      verdictExpectedBy
    }
  }
`);

export type Metrics = DashboardMetricsFieldsFragment;

/**
 * A rate with its interval and n, then in a note the outcomes it does not count yet; without a
 * decided outcome but with some maturing or waiting, "no decided outcome yet; ..." in place of
 * "n/a (n = 0)".
 */
export function RateOrNotYet({
  estimate,
  maturing,
  pending,
  firstCountedOn,
  what,
}: {
  estimate: { rate?: number | null; lower?: number | null; upper?: number | null; count?: number | null };
  maturing: number;
  pending: number;
  firstCountedOn?: string | null;
  what?: string;
}) {
  const notYet = estimate.rate == null ? noDecidedYet(maturing, pending, firstCountedOn, what) : "";
  if (notYet) return <>{notYet}</>;
  const open = notCountedYet(maturing, pending);
  return (
    <>
      {rateWithInterval(estimate)}
      {open ? <span class="note"> {open}</span> : null}
    </>
  );
}

/** Series colours, each >= 4.5:1 on white. */
const SERIES = { agent: "#1f3b73", people: "#8a4b00" } as const;

export function KeyFigures({ metrics, caption }: { metrics: Metrics; caption: string }) {
  const r = metrics.responses;
  const d = metrics.dealImpact;
  return (
    <table class="figures">
      <caption>{caption}</caption>
      <tbody>
        <tr>
          <th scope="row">Actions</th>
          <td>{integer(metrics.interactions)}</td>
        </tr>
        <tr>
          <th scope="row">Response rate</th>
          <td>
            <RateOrNotYet estimate={r.replies} maturing={r.maturingReplies} pending={r.pendingReplies} what="reply" />
          </td>
        </tr>
        {r.versusHuman ? (
          <tr>
            <th scope="row">Response rate versus people</th>
            <td>
              {points(r.versusHuman.difference)} (95 % CI {points(r.versusHuman.differenceLower)} to{" "}
              {points(r.versusHuman.differenceUpper)})
            </td>
          </tr>
        ) : null}
        <tr>
          <th scope="row">Escalations</th>
          <td>
            {integer(metrics.escalations.count)}: {rateWithInterval(metrics.escalations.rate)} of actions;{" "}
            {integer(metrics.escalations.critical)} critical actions
          </td>
        </tr>
        <tr>
          <th scope="row">Meetings</th>
          <td>
            {integer(r.meetingsBooked)} booked; attended{r.attendance.rate == null ? ": " : " "}
            <RateOrNotYet estimate={r.attendance} maturing={r.maturingAttendance} pending={r.pendingAttendance} />
          </td>
        </tr>
        <tr>
          <th scope="row">Deal impact</th>
          <td>
            {integer(d.progressed)} progressed, {integer(d.won)} won, {integer(d.lost)} lost; win rate{" "}
            {rateWithInterval(d.winRate)}; {money(d.amountWon.total)} won
          </td>
        </tr>
        <tr>
          <th scope="row">Feedback</th>
          <td>
            {integer(metrics.feedback.count)} ratings ({integer(metrics.feedback.prompted)} prompted); mean score{" "}
            {percent(metrics.feedback.meanScore)}; thumbs up {rateWithInterval(metrics.feedback.thumbsUp)}
          </td>
        </tr>
        <tr>
          <th scope="row">Cost</th>
          <td>
            {money(metrics.cost.total.total)} ({money(metrics.cost.perInteraction)} per action, {integer(metrics.cost.tokens)}{" "}
            tokens)
          </td>
        </tr>
      </tbody>
    </table>
  );
}

/** What the chart writes in an agent row without an estimate: why it has none yet. */
function agentNote(t: Metrics["ratesByActionType"][number]): string {
  return noDecidedYet(t.maturing, t.pending) || "no outcomes in this range";
}

/** Agent versus the human baseline per action type: a dot-and-interval chart and its table. */
export function AgentVersusHuman({ metrics, title }: { metrics: Metrics; title: string }) {
  const rates = metrics.ratesByActionType;
  const [shown, setShown] = useState({ agent: true, people: true });
  const draw = useCallback(
    (width: number) => {
      const rows: IntervalRow[] = rates.flatMap((t) => [
        ...(shown.agent ? [{
          key: `${t.actionType}:agent`,
          label: `${label(t.actionType)}: agent`,
          value: t.agent.rate ?? null,
          lower: t.agent.lower ?? null,
          upper: t.agent.upper ?? null,
          n: t.agent.count,
          color: SERIES.agent,
          note: t.agent.rate == null ? agentNote(t) : undefined,
        }] : []),
        ...(t.versusHuman && shown.people
          ? [
              {
                key: `${t.actionType}:human`,
                label: `${label(t.actionType)}: people`,
                value: t.versusHuman.human.rate ?? null,
                lower: t.versusHuman.human.lower ?? null,
                upper: t.versusHuman.human.upper ?? null,
                n: t.versusHuman.human.count,
                color: SERIES.people,
              },
            ]
          : []),
      ]);
      return dotIntervalChart(rows, {
        width,
        xLabel: "Success rate",
        format: percent,
        onSelect: (row) => navigate({ actionType: row.key.split(":")[0] ?? null }),
      });
    },
    [rates, shown],
  );
  if (rates.length === 0) return <p class="status status-empty">No action type has decided outcomes in this range.</p>;
  return (
    <>
      <ChartFigure
        title={title}
        description="Success rate of each action type's calibrating outcome, the agent's beside the human baseline's, with 95 % intervals; a row without a decided outcome yet says how many are still maturing or waiting for a label. Click a row to filter on its action type."
        draw={draw}
      />
      <fieldset class="toggle legend-toggles">
        <legend>Series</legend>
        {(["agent", "people"] as const).map((series) => (
          <label>
            <input
              type="checkbox"
              checked={shown[series]}
              onChange={(e) => setShown({ ...shown, [series]: e.currentTarget.checked })}
            />{" "}
            <span class="swatch" style={{ background: SERIES[series] }} aria-hidden="true" /> {series === "agent" ? "the agent" : "people (baseline)"}
          </label>
        ))}
      </fieldset>
      <table>
        <caption>{title} (table)</caption>
        <thead>
          <tr>
            <th scope="col">Action type</th>
            <th scope="col">Outcome</th>
            <th scope="col">Agent</th>
            <th scope="col">People</th>
            <th scope="col">Difference</th>
            <th scope="col">Maturing / waiting</th>
          </tr>
        </thead>
        <tbody>
          {rates.map((t) => (
            <tr key={t.actionType}>
              <th scope="row">{label(t.actionType)}</th>
              <td>{label(t.outcomeType)}</td>
              <td>{rateOrNotYet(t.agent, t.maturing, t.pending)}</td>
              <td>{t.versusHuman ? rateWithInterval(t.versusHuman.human) : "no baseline"}</td>
              <td>
                {t.versusHuman
                  ? t.agent.rate == null
                    ? "not yet (no decided outcome of the agent's)"
                    : `${points(t.versusHuman.difference)} (${points(t.versusHuman.differenceLower)} to ${points(t.versusHuman.differenceUpper)})`
                  : "n/a"}
              </td>
              <td>
                {integer(t.maturing)} / {integer(t.pending)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/**
 * Matured outcomes, then those still maturing (not judged) and the day a verdict is expected
 * when the API gives one: "0; 646 still maturing (not judged), verdict expected by 2027-01-07".
 */
export function maturedAndMaturing(c: {
  maturedOutcomes: number;
  maturingOutcomes?: number | null;
  verdictExpectedBy?: string | null;
  verdict: string;
}): string {
  let text = integer(c.maturedOutcomes);
  if (c.maturingOutcomes) text += `; ${integer(c.maturingOutcomes)} still maturing (not judged)`;
  if (c.verdictExpectedBy) text += `, verdict expected by ${c.verdictExpectedBy}`;
  else if (c.maturingOutcomes && c.verdict === "insufficient_data") text += ", too few for a verdict even once matured";
  return text;
}

/** Calibration health per action type, with the verdict's reason. */
export function CalibrationHealth({ metrics, caption }: { metrics: Metrics; caption: string }) {
  if (metrics.calibration.length === 0) return null;
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Action type</th>
          <th scope="col">Verdict</th>
          <th scope="col">Debiased error</th>
          <th scope="col">Matured outcomes</th>
          <th scope="col">Why</th>
        </tr>
      </thead>
      <tbody>
        {metrics.calibration.map((c) => (
          <tr key={c.actionType}>
            <th scope="row">
              <a
                href={`?view=calibration&actionType=${encodeURIComponent(c.actionType)}`}
                onClick={(e) => {
                  e.preventDefault();
                  navigate({ view: "calibration", actionType: c.actionType });
                }}
              >
                {label(c.actionType)}
              </a>
            </th>
            <td class={`verdict verdict-${c.verdict}`}>{label(c.verdict)}</td>
            <td>{decimal(c.debiasedError)}</td>
            <td>{maturedAndMaturing(c)}</td>
            <td>{c.verdictReason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
