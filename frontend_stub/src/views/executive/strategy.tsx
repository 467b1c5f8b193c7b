// The strategic view: per action type the recommendation (expand autonomy, hold, pull back)
// with the evidence behind it, and the "what if" of moving one type's autonomy threshold.

import { useState } from "preact/hooks";
import { graphql } from "../../gql";
import { useQuery } from "../../api/use-query";
import { amount, decimal, hours, integer, label, percent, points, rateWithInterval } from "../../charts/format";
import { QueryResult } from "../../components/status";

export const StrategicViewDocument = graphql(`
  query StrategicView($from: Date, $to: Date) {
    strategicView(from: $from, to: $to) {
      from
      to
      currency
      note
      actionTypes {
        actionType
        actions
        escalations
        judgedFrom
        judgedTo
        verdict
        verdictReason
        debiasedCalibrationError
        recommendation
        agentRate {
          rate
          lower
          upper
          count
        }
        lift {
          difference
          differenceLower
          differenceUpper
        }
        escalatedSuccess {
          rate
          lower
          upper
          count
        }
        roi {
          expected {
            netValue {
              amount
              currency
            }
          }
        }
        evidence {
          finding
          value
          lower
          upper
          target
          reason
        }
      }
    }
  }
`);

export const WhatIfDocument = graphql(`
  query WhatIf($actionType: String!, $threshold: Float!, $from: Date, $to: Date) {
    whatIf(actionType: $actionType, autonomyThreshold: $threshold, from: $from, to: $to) {
      actionType
      actions
      currency
      maturedUntil
      decidedOutcomes
      autonomyThreshold
      calibratedAtThreshold
      recalibrationMethod
      current {
        ...ProjectionFields
      }
      proposed {
        ...ProjectionFields
      }
      currentValue {
        ...ProjectionValueFields
      }
      proposedValue {
        ...ProjectionValueFields
      }
      changeValue {
        ...ProjectionValueFields
      }
    }
  }
`);

export const ProjectionFields = graphql(`
  fragment ProjectionFields on PolicyProjection {
    autonomous
    reviewed
    escalated
    errors {
      value
      lower
      upper
    }
    errorRate {
      value
      lower
      upper
    }
    successes {
      value
      lower
      upper
    }
  }
`);

export const ProjectionValueFields = graphql(`
  fragment ProjectionValueFields on ProjectionValue {
    hoursSaved {
      low
      expected
      high
    }
    netValue {
      low
      expected
      high
    }
  }
`);

const RECOMMENDATION: Record<string, string> = {
  expand_autonomy: "Expand autonomy",
  hold: "Hold",
  pull_back: "Pull back",
};

type Span = { value?: number | null; lower?: number | null; upper?: number | null };
const span = (s: Span, format: (v: number | null | undefined) => string) =>
  `${format(s.value)} (${format(s.lower)} to ${format(s.upper)})`;
const range3 = (s: { low: number; expected: number; high: number }, format: (v: number) => string) =>
  `${format(s.expected)} (${format(s.low)} to ${format(s.high)})`;

function WhatIf({ types, range }: { types: string[]; range: { from: string; to: string } }) {
  const [actionType, setActionType] = useState(types[0] ?? "email");
  const [threshold, setThreshold] = useState("0.8");
  const [asked, setAsked] = useState<{ actionType: string; threshold: number } | null>(null);
  const state = useQuery(WhatIfDocument, { actionType: asked?.actionType ?? "", threshold: asked?.threshold ?? 0, ...range }, { skip: !asked });
  return (
    <div id="what-if">
      <h3>What if the autonomy threshold moved?</h3>
      <form
        class="actions"
        aria-label="What if"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked({ actionType, threshold: Number(threshold) });
        }}
      >
        <label class="inline-field">
          Action type{" "}
          <select value={actionType} onChange={(e) => setActionType(e.currentTarget.value)}>
            {types.map((t) => (
              <option value={t}>{label(t)}</option>
            ))}
          </select>
        </label>
        <label class="inline-field">
          Autonomy threshold (raw confidence, 0 to 1){" "}
          <input type="number" min="0" max="1" step="0.01" required value={threshold} onInput={(e) => setThreshold(e.currentTarget.value)} />
        </label>
        <button type="submit">Project</button>
      </form>
      {asked ? (
        <QueryResult state={state} what="the projection">
          {({ whatIf: w }) => {
            const money = (v: number | null | undefined) => amount(v, w.currency);
            return (
              <table>
                <caption>
                  {label(w.actionType)} at an autonomy threshold of {decimal(w.autonomyThreshold, 2)} (calibrated{" "}
                  {percent(w.calibratedAtThreshold)}): {integer(w.actions)} actions, {decimal(w.decidedOutcomes, 0)} matured outcomes
                  to {w.maturedUntil}, {w.recalibrationMethod} map
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Figure</th>
                    <th scope="col">Now</th>
                    <th scope="col">Proposed</th>
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <th scope="row">Acting alone</th>
                    <td>{decimal(w.current.autonomous, 0)}</td>
                    <td>{decimal(w.proposed.autonomous, 0)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Reviewed</th>
                    <td>{decimal(w.current.reviewed, 0)}</td>
                    <td>{decimal(w.proposed.reviewed, 0)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Escalated</th>
                    <td>{decimal(w.current.escalated, 0)}</td>
                    <td>{decimal(w.proposed.escalated, 0)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Errors acting alone (95 % interval)</th>
                    <td>{span(w.current.errors, (v) => decimal(v, 0))}</td>
                    <td>{span(w.proposed.errors, (v) => decimal(v, 0))}</td>
                  </tr>
                  <tr>
                    <th scope="row">Error rate acting alone</th>
                    <td>{span(w.current.errorRate, percent)}</td>
                    <td>{span(w.proposed.errorRate, percent)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Hours saved (low to high)</th>
                    <td>{range3(w.currentValue.hoursSaved, hours)}</td>
                    <td>{range3(w.proposedValue.hoursSaved, hours)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Net value (low to high)</th>
                    <td>{range3(w.currentValue.netValue, money)}</td>
                    <td>{range3(w.proposedValue.netValue, money)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Change in net value</th>
                    <td colSpan={2}>{range3(w.changeValue.netValue, money)}</td>
                  </tr>
                </tbody>
              </table>
            );
          }}
        </QueryResult>
      ) : (
        <p class="note">Pick an action type and a threshold, then Project.</p>
      )}
    </div>
  );
}

export function StrategyPanel({ range }: { range: { from: string; to: string } }) {
  const state = useQuery(StrategicViewDocument, range);
  return (
    <section aria-labelledby="strategy-title" id="strategy">
      <h2 id="strategy-title">Strategic recommendations</h2>
      <QueryResult state={state} what="the strategic view" isEmpty={(d) => d.strategicView.actionTypes.length === 0}>
        {({ strategicView: v }) => (
          <>
            <table>
              <caption>
                Recommendation per action type, {v.from} to {v.to}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Action type</th>
                  <th scope="col">Recommendation</th>
                  <th scope="col">Success (agent)</th>
                  <th scope="col">Versus people</th>
                  <th scope="col">Calibration</th>
                  <th scope="col">Escalated actions' success</th>
                  <th scope="col">Net value (expected)</th>
                  <th scope="col">Evidence</th>
                </tr>
              </thead>
              <tbody>
                {v.actionTypes.map((t) => (
                  <tr key={t.actionType}>
                    <th scope="row">{label(t.actionType)}</th>
                    <td>
                      <strong>{RECOMMENDATION[t.recommendation] ?? label(t.recommendation)}</strong>
                    </td>
                    <td>{rateWithInterval(t.agentRate)}</td>
                    <td>
                      {t.lift ? `${points(t.lift.difference)} (${points(t.lift.differenceLower)} to ${points(t.lift.differenceUpper)})` : "no baseline"}
                    </td>
                    <td>
                      {label(t.verdict)}, error {decimal(t.debiasedCalibrationError)} ({t.judgedFrom} to {t.judgedTo})
                    </td>
                    <td>{rateWithInterval(t.escalatedSuccess)}</td>
                    <td>{t.roi ? amount(t.roi.expected.netValue?.amount, v.currency) : "n/a"}</td>
                    <td>
                      <ul class="evidence">
                        {t.evidence.map((e) => (
                          <li>{e.reason}</li>
                        ))}
                      </ul>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {v.note ? <p class="note">{v.note}</p> : null}
            <WhatIf types={v.actionTypes.map((t) => t.actionType)} range={range} />
          </>
        )}
      </QueryResult>
    </section>
  );
}
