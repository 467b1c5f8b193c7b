// An agent's policies, one per action type (read at once through `Agent.policies`; a type without
// one says so): the thresholds in force, frozen or not, and every version with why and on what
// evidence; freeze or release it, or roll back to an earlier
// version (each with a reason, audited). `policyChanged` events re-read it without a reload.

import { useState } from "preact/hooks";
import { graphql } from "../../gql";
import { useSubscription } from "../../api/live";
import { useMutation } from "../../api/use-mutation";
import { useQuery } from "../../api/use-query";
import { dateTime, decimal, label } from "../../charts/format";
import { ACTION_TYPES } from "../../components/filters";
import { Empty, MutationStatus, QueryResult } from "../../components/status";
import type { Route } from "../../router";
import type { Viewer } from "../../viewer";

export const AgentPoliciesDocument = graphql(`
  query AgentPolicies($agent: ID!) {
    node(id: $agent) {
      ... on Agent {
        id
        name
        policies {
          actionType
          escalateBelow
          autonomousAbove
          frozen
          version
          updatedAt
          calibratedConfidence {
            method
            sampleSize
          }
          evidence {
            moveAt
            fedThrough
            escalation {
              raiseEValue
              lowerEValue
              outcomes
            }
            autonomy {
              raiseEValue
              lowerEValue
              outcomes
            }
          }
        }
      }
    }
  }
`);

export const PolicyHistoryDocument = graphql(`
  query PolicyHistory($agent: ID!, $actionType: String!) {
    policyHistory(agentId: $agent, actionType: $actionType, first: 20) {
      totalCount
      edges {
        node {
          version
          previousEscalateBelow
          previousAutonomousAbove
          escalateBelow
          autonomousAbove
          reason
          changedBy
          changedAt
          user {
            name
          }
        }
      }
    }
  }
`);

export const PolicyChangedDocument = graphql(`
  subscription PolicyChanged($actionType: String) {
    policyChanged(actionType: $actionType) {
      version
      stream
      agentId
      actionType
      policyVersion
      frozen
      changedBy
    }
  }
`);

export const FreezePolicyDocument = graphql(`
  mutation FreezePolicy($agent: ID!, $actionType: String!, $frozen: Boolean!, $reason: String!) {
    freezePolicy(input: { agentId: $agent, actionType: $actionType, frozen: $frozen, reason: $reason }) {
      policy {
        version
        frozen
      }
      errors {
        field
        message
      }
    }
  }
`);

export const RollbackPolicyDocument = graphql(`
  mutation RollbackPolicy($agent: ID!, $actionType: String!, $version: Int!, $reason: String!) {
    rollbackPolicy(input: { agentId: $agent, actionType: $actionType, version: $version, reason: $reason }) {
      policy {
        version
        frozen
      }
      errors {
        field
        message
      }
    }
  }
`);

type Band = { raiseEValue?: number | null; lowerEValue?: number | null; outcomes: number };
type Policy = {
  actionType: string;
  escalateBelow: number;
  autonomousAbove: number;
  frozen: boolean;
  version: number;
  updatedAt: string;
  calibratedConfidence: { method: string; sampleSize: number };
  evidence?: { moveAt: number; fedThrough?: string | null; escalation: Band; autonomy: Band } | null;
};

// One threshold's evidence in words: the stronger way and how far it is from a move.
function bandText(name: string, band: Band, moveAt: number): string {
  const up = band.raiseEValue ?? 1;
  const down = band.lowerEValue ?? 1;
  const [way, e] = up >= down ? ["raise", up] : ["lower", down];
  return `${name}: ${band.outcomes} outcomes near it since it last moved; the evidence to ${way} it is ${decimal(e, 1)} of the ${decimal(moveAt, 0)} a move needs`;
}

function PolicyCard({
  agent,
  policy: p,
  canChange,
  refresh,
  heard,
  onChanged,
}: {
  agent: string;
  policy: Policy;
  canChange: boolean;
  refresh: number;
  heard: string;
  onChanged: () => void;
}) {
  const actionType = p.actionType;
  const [reason, setReason] = useState("");
  const state = useQuery(PolicyHistoryDocument, { agent, actionType }, { refresh });
  const freeze = useMutation(FreezePolicyDocument);
  const rollback = useMutation(RollbackPolicyDocument);
  const title = `Policy for ${label(actionType)}`;
  return (
    <section aria-labelledby={`policy-${actionType}`}>
      <h3 id={`policy-${actionType}`}>{title}</h3>
      <p role="status" class="mutation-done">
        {heard}
      </p>
      <p>
        Escalate below <strong>{decimal(p.escalateBelow, 2)}</strong>, act alone from{" "}
        <strong>{decimal(p.autonomousAbove, 2)}</strong> (raw confidence); between, a review. Version {p.version} of{" "}
        {dateTime(p.updatedAt)}; {p.frozen ? <strong>frozen: automation leaves it alone</strong> : "automation may move it"}.
        Recalibration: {label(p.calibratedConfidence.method.toLowerCase())} on {p.calibratedConfidence.sampleSize} outcomes.
      </p>
      {p.evidence ? (
        <p class="evidence">
          Each threshold moves one step only on evidence that stays significant however long it is
          watched (matured days up to {p.evidence.fedThrough ?? "none yet"}).{" "}
          {bandText("Escalation threshold", p.evidence.escalation, p.evidence.moveAt)}.{" "}
          {bandText("Autonomy threshold", p.evidence.autonomy, p.evidence.moveAt)}.
        </p>
      ) : null}
      {canChange ? (
        <div class="actions">
          <label class="inline-field">
            Reason (required to change){" "}
            <input type="text" maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button
            type="button"
            disabled={freeze.busy || !reason.trim()}
            onClick={async () => {
              const data = await freeze.run(
                { agent, actionType, frozen: !p.frozen, reason },
                p.frozen ? "Released: automation may move it again." : "Frozen.",
              );
              if (data?.freezePolicy.policy) onChanged();
            }}
          >
            {p.frozen ? "Release (unfreeze)" : "Freeze"}
          </button>
          <MutationStatus state={freeze} />
          <MutationStatus state={rollback} />
        </div>
      ) : null}
      <QueryResult state={state} what={`the ${label(actionType)} policy's history`}>
        {({ policyHistory }) => (
          <table>
            <caption>
              {title}: history, newest version first ({policyHistory.totalCount ?? policyHistory.edges.length} versions)
            </caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">When</th>
                <th scope="col">Escalate below</th>
                <th scope="col">Act alone from</th>
                <th scope="col">By</th>
                <th scope="col">Why</th>
                {canChange ? <th scope="col">Roll back</th> : null}
              </tr>
            </thead>
            <tbody>
              {policyHistory.edges.map(({ node: c }) => (
                <tr key={c.version}>
                  <th scope="row">{c.version}</th>
                  <td>{dateTime(c.changedAt)}</td>
                  <td>
                    {c.previousEscalateBelow != null ? `${decimal(c.previousEscalateBelow, 2)} → ` : ""}
                    {decimal(c.escalateBelow, 2)}
                  </td>
                  <td>
                    {c.previousAutonomousAbove != null ? `${decimal(c.previousAutonomousAbove, 2)} → ` : ""}
                    {decimal(c.autonomousAbove, 2)}
                  </td>
                  <td>{c.changedBy === "USER" ? (c.user?.name ?? "a person") : "automation"}</td>
                  <td>{c.reason}</td>
                  {canChange ? (
                    <td>
                      {c.version !== p.version ? (
                        <button
                          type="button"
                          class="secondary"
                          disabled={rollback.busy || !reason.trim()}
                          aria-label={`Roll back the ${label(actionType)} policy to version ${c.version}`}
                          onClick={async () => {
                            const data = await rollback.run(
                              { agent, actionType, version: c.version, reason },
                              `Rolled back to version ${c.version}'s thresholds (frozen).`,
                            );
                            if (data?.rollbackPolicy.policy) onChanged();
                          }}
                        >
                          Roll back to {c.version}
                        </button>
                      ) : (
                        "in force"
                      )}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryResult>
    </section>
  );
}

/** A type the agent has no policy for yet: said plainly, not as an error. */
function NoPolicy({ actionType }: { actionType: string }) {
  return (
    <section aria-labelledby={`policy-${actionType}`}>
      <h3 id={`policy-${actionType}`}>Policy for {label(actionType)}</h3>
      <Empty>No policy for {label(actionType)} yet (defaults apply).</Empty>
    </section>
  );
}

function AgentPolicies({ agent, actionType, canChange }: { agent: string; actionType: string | null; canChange: boolean }) {
  const [tick, setTick] = useState(0);
  const [heard, setHeard] = useState<Map<string, string>>(new Map());
  const state = useQuery(AgentPoliciesDocument, { agent }, { refresh: tick });
  useSubscription(
    PolicyChangedDocument,
    { actionType },
    (data) => {
      const e = data.policyChanged;
      if (e.agentId !== agent) return;
      const text = `Changed just now by ${e.changedBy.toLowerCase()}: version ${e.policyVersion}${e.frozen ? ", frozen" : ""}.`;
      setHeard((previous) => new Map(previous).set(e.actionType, text));
      setTick((t) => t + 1);
    },
    () => setTick((t) => t + 1),
  );
  return (
    <QueryResult state={state} what="the agent's policies">
      {({ node }) => {
        if (!node || !("policies" in node)) return <Empty>This agent does not exist or is outside what you may see.</Empty>;
        const policies = new Map((node.policies ?? []).map((p) => [p.actionType, p] as const));
        // the usual types, then any other the agent has a policy for
        const types = actionType ? [actionType] : [...new Set([...ACTION_TYPES, ...policies.keys()])];
        return (
          <>
            {types.map((t) => {
              const p = policies.get(t);
              return p ? (
                <PolicyCard
                  key={`${agent}:${t}`}
                  agent={agent}
                  policy={p}
                  canChange={canChange}
                  refresh={tick}
                  heard={heard.get(t) ?? ""}
                  onChanged={() => setTick((n) => n + 1)}
                />
              ) : (
                <NoPolicy key={`${agent}:${t}`} actionType={t} />
              );
            })}
          </>
        );
      }}
    </QueryResult>
  );
}

export function PoliciesView({ route, viewer }: { route: Route; viewer: Viewer }) {
  const agents = viewer.agents.filter((a) => !route.team || a.team?.id === route.team);
  const agent = route.agent ?? agents[0]?.id ?? null;
  const name = viewer.agents.find((a) => a.id === agent)?.name ?? "the agent";
  const canChange = viewer.role === "MANAGER" || viewer.role === "EXECUTIVE" || viewer.role === "ADMIN";
  return (
    <section aria-labelledby="view-title" id="policies">
      <h2 id="view-title">Policies of {name}</h2>
      {agent ? (
        <>
          <p class="subtitle">
            Pick another agent or one action type above. A reason is required to freeze, release or roll back; a rollback
            restores an earlier version's thresholds as a new version and freezes it.
          </p>
          <AgentPolicies key={agent} agent={agent} actionType={route.actionType} canChange={canChange} />
        </>
      ) : (
        <Empty>No agent to show.</Empty>
      )}
    </section>
  );
}
