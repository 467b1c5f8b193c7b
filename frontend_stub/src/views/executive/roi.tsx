// ROI with its range (low, expected, high ends of its assumptions and of the lift's interval),
// the assumptions it used with where each comes from, and a form that sets new values for them
// (a new audited version from a day on, with a reason).

import { useState } from "preact/hooks";
import { graphql } from "../../gql";
import type { RoiFieldsFragment } from "../../gql/graphql";
import { useMutation } from "../../api/use-mutation";
import { dateTime, decimal, hours, integer, label, money } from "../../charts/format";
import { MutationStatus } from "../../components/status";

export const RoiFields = graphql(`
  fragment RoiFields on RoiMetrics {
    interactions
    escalations
    redone
    automatedTasks
    promptsAnswered
    reviews
    labels
    note
    low {
      ...RoiScenarioFields
    }
    expected {
      ...RoiScenarioFields
    }
    high {
      ...RoiScenarioFields
    }
    assumptions {
      name
      actionType
      low
      expected
      high
      source
      version
      effectiveFrom
      reason
      changedAt
      changedBy {
        name
      }
    }
  }
`);

export const RoiScenarioFields = graphql(`
  fragment RoiScenarioFields on RoiScenario {
    hoursSaved
    capacityHours
    capped
    humanHoursCaused
    incrementalSuccesses
    valueOfTimeSaved {
      amount
      currency
    }
    incrementalValue {
      amount
      currency
    }
    agentCost {
      amount
      currency
    }
    platformCost {
      amount
      currency
    }
    costOfHumanTime {
      amount
      currency
    }
    totalCost {
      amount
      currency
    }
    netValue {
      amount
      currency
    }
    roi
  }
`);

export const SetRoiAssumptionsDocument = graphql(`
  mutation SetRoiAssumptions($changes: [RoiAssumptionInput!]!, $effectiveFrom: Date!, $reason: String!) {
    setRoiAssumptions(input: { changes: $changes, effectiveFrom: $effectiveFrom, reason: $reason }) {
      version
      assumptions {
        name
        actionType
      }
      errors {
        field
        message
      }
    }
  }
`);

type Roi = RoiFieldsFragment;
type Scenario = Roi["expected"];

const ROWS: [string, (s: Scenario) => string][] = [
  ["Net value", (s) => money(s.netValue)],
  ["ROI (net value / total cost)", (s) => (s.roi == null ? "n/a" : `${decimal(s.roi, 2)}×`)],
  ["Hours saved", (s) => `${hours(s.hoursSaved)}${s.capped ? ` (capped at ${hours(s.capacityHours)})` : ""}`],
  ["People's hours caused", (s) => hours(s.humanHoursCaused)],
  ["Value of time saved", (s) => money(s.valueOfTimeSaved)],
  ["Successes beyond people", (s) => decimal(s.incrementalSuccesses, 1)],
  ["Value of those successes", (s) => money(s.incrementalValue)],
  ["Agent cost", (s) => money(s.agentCost)],
  ["Platform cost", (s) => money(s.platformCost)],
  ["Cost of people's time", (s) => money(s.costOfHumanTime)],
  ["Total cost", (s) => money(s.totalCost)],
];

export function RoiTable({ roi }: { roi: Roi }) {
  return (
    <>
      <table>
        <caption>Return on investment: low, expected and high ends</caption>
        <thead>
          <tr>
            <th scope="col">Figure</th>
            <th scope="col">Low</th>
            <th scope="col">Expected</th>
            <th scope="col">High</th>
          </tr>
        </thead>
        <tbody>
          {ROWS.map(([name, show]) => (
            <tr>
              <th scope="row">{name}</th>
              <td>{show(roi.low)}</td>
              <td>{show(roi.expected)}</td>
              <td>{show(roi.high)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="note">
        {integer(roi.interactions)} actions: {integer(roi.automatedTasks)} completed by the agent, {integer(roi.escalations)}{" "}
        escalated, {integer(roi.redone)} judged wrong (taken as redone); people answered {integer(roi.promptsAnswered)} prompts,
        wrote {integer(roi.reviews)} reviews and labelled {integer(roi.labels)} outcomes.
        {roi.note ? ` ${roi.note}` : ""}
      </p>
    </>
  );
}

type Draft = { low: string; expected: string; high: string };
const key = (a: { name: string; actionType?: string | null }) => `${a.name}|${a.actionType ?? ""}`;

export function RoiAssumptions({ roi, canEdit, onSaved }: { roi: Roi; canEdit: boolean; onSaved: () => void }) {
  const [editing, setEditing] = useState(false);
  const [drafts, setDrafts] = useState<Map<string, Draft>>(new Map());
  const [reason, setReason] = useState("");
  const [from, setFrom] = useState(new Date().toISOString().slice(0, 10));
  const mutation = useMutation(SetRoiAssumptionsDocument);
  const value = (a: Roi["assumptions"][number], field: keyof Draft) => drafts.get(key(a))?.[field] ?? String(a[field]);
  const change = (a: Roi["assumptions"][number], field: keyof Draft, text: string) =>
    setDrafts((m) => {
      const next = new Map(m);
      const current = next.get(key(a)) ?? { low: String(a.low), expected: String(a.expected), high: String(a.high) };
      next.set(key(a), { ...current, [field]: text });
      return next;
    });
  const save = async (e: Event) => {
    e.preventDefault();
    const changes = roi.assumptions
      .filter((a) => drafts.has(key(a)))
      .map((a) => {
        const d = drafts.get(key(a))!;
        return { name: a.name, actionType: a.actionType ?? null, low: Number(d.low), expected: Number(d.expected), high: Number(d.high) };
      })
      .filter((c, i) => {
        const a = roi.assumptions.filter((x) => drafts.has(key(x)))[i]!;
        return c.low !== a.low || c.expected !== a.expected || c.high !== a.high;
      });
    if (changes.length === 0) return;
    const data = await mutation.run({ changes, effectiveFrom: from, reason }, `Saved as a new version of the assumptions.`);
    if (data?.setRoiAssumptions.version != null) {
      setDrafts(new Map());
      setEditing(false);
      onSaved();
    }
  };
  return (
    <form onSubmit={save} aria-label="ROI assumptions">
      <table>
        <caption>Assumptions behind the ROI, and where each comes from</caption>
        <thead>
          <tr>
            <th scope="col">Assumption</th>
            <th scope="col">Action type</th>
            <th scope="col">Low</th>
            <th scope="col">Expected</th>
            <th scope="col">High</th>
            <th scope="col">Source</th>
          </tr>
        </thead>
        <tbody>
          {roi.assumptions.map((a) => {
            const name = `${label(a.name)}${a.actionType ? ` (${label(a.actionType)})` : ""}`;
            return (
              <tr key={key(a)}>
                <th scope="row">{label(a.name)}</th>
                <td>{a.actionType ? label(a.actionType) : "every type"}</td>
                {(["low", "expected", "high"] as const).map((field) =>
                  editing ? (
                    <td>
                      <input
                        type="number"
                        step="any"
                        min="0"
                        aria-label={`${name}: ${field}`}
                        value={value(a, field)}
                        onInput={(e) => change(a, field, e.currentTarget.value)}
                      />
                    </td>
                  ) : (
                    <td>{decimal(a[field], 2)}</td>
                  ),
                )}
                <td>
                  {label(a.source)}
                  {a.version != null ? `, version ${a.version}` : ""}
                  {a.effectiveFrom ? ` from ${a.effectiveFrom}` : ""}
                  {a.changedBy ? ` by ${a.changedBy.name}` : ""}
                  {a.changedAt ? ` (${dateTime(a.changedAt)})` : ""}
                  {a.reason ? `: ${a.reason}` : ""}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {canEdit ? (
        editing ? (
          <div class="actions">
            <label class="inline-field">
              In force from <input type="date" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
            </label>
            <label class="inline-field">
              Reason (required){" "}
              <input type="text" required maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            </label>
            <button type="submit" disabled={mutation.busy || drafts.size === 0}>
              Save assumptions
            </button>
            <button type="button" class="secondary" onClick={() => (setEditing(false), setDrafts(new Map()))}>
              Cancel
            </button>
            <MutationStatus state={mutation} />
          </div>
        ) : (
          <div class="actions">
            <button type="button" onClick={() => setEditing(true)}>
              Edit assumptions
            </button>
            <MutationStatus state={mutation} />
          </div>
        )
      ) : null}
    </form>
  );
}
