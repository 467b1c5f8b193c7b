// The alerts a viewer sees (of a team or an agent when given): acknowledge, snooze, resolve;
// `alertChanged` events update the list in place, and a dropped connection re-queries it (as
// does a gap in an alert stream's versions). An alert named in the URL (`?alert=`, the link of
// an alert e-mail) is opened and highlighted.

import { useEffect, useRef, useState } from "preact/hooks";
import { graphql } from "../../gql";
import type { AlertFieldsFragment } from "../../gql/graphql";
import { execute } from "../../api/client";
import { StreamVersions, useSubscription } from "../../api/live";
import { useMutation } from "../../api/use-mutation";
import { useQuery } from "../../api/use-query";
import { dateTime, decimal, integer, label } from "../../charts/format";
import { MutationStatus, QueryResult } from "../../components/status";
import { navigate } from "../../router";

export const AlertFields = graphql(`
  fragment AlertFields on Alert {
    id
    kind
    metric
    actionType
    severity
    state
    subject
    message
    firedAt
    lastSeenAt
    acknowledgedAt
    resolvedAt
    snoozed
    snoozedUntil
    reminders
    team {
      id
      name
    }
    agent {
      id
      name
    }
    acknowledgedBy {
      name
    }
    snoozedBy {
      name
    }
    resolvedBy {
      name
    }
    evidence {
      value
      baseline
      n
      window {
        start
        end
      }
      policyVersion
    }
  }
`);

export const AlertsDocument = graphql(`
  query Alerts($states: [AlertState!], $team: ID, $agent: ID) {
    alerts(state: $states, teamId: $team, agentId: $agent, first: 50) {
      totalCount
      edges {
        node {
          ...AlertFields
        }
      }
    }
  }
`);

export const AlertNodeDocument = graphql(`
  query AlertNode($id: ID!) {
    node(id: $id) {
      ... on Alert {
        ...AlertFields
      }
    }
  }
`);

export const AlertChangedDocument = graphql(`
  subscription AlertChanged($team: ID, $agent: ID) {
    alertChanged(teamId: $team, agentId: $agent) {
      version
      stream
      change
      at
      alert {
        id
        state
        message
      }
    }
  }
`);

export const AcknowledgeAlertDocument = graphql(`
  mutation AcknowledgeAlert($id: ID!) {
    acknowledgeAlert(input: { id: $id }) {
      alert {
        ...AlertFields
      }
      errors {
        field
        message
      }
    }
  }
`);

export const SnoozeAlertDocument = graphql(`
  mutation SnoozeAlert($id: ID!, $until: DateTime!) {
    snoozeAlert(input: { id: $id, until: $until }) {
      alert {
        ...AlertFields
      }
      errors {
        field
        message
      }
    }
  }
`);

export const ResolveAlertDocument = graphql(`
  mutation ResolveAlert($id: ID!) {
    resolveAlert(input: { id: $id }) {
      alert {
        ...AlertFields
      }
      errors {
        field
        message
      }
    }
  }
`);

type Alert = AlertFieldsFragment;

const SNOOZES: [string, number][] = [
  ["1 hour", 1],
  ["4 hours", 4],
  ["1 day", 24],
  ["1 week", 24 * 7],
];

function AlertActions({ alert, onChanged }: { alert: Alert; onChanged: (alert: Alert) => void }) {
  const acknowledge = useMutation(AcknowledgeAlertDocument);
  const snooze = useMutation(SnoozeAlertDocument);
  const resolve = useMutation(ResolveAlertDocument);
  const [hours, setHours] = useState(4);
  if (alert.state === "RESOLVED") return null;
  const what = alert.message;
  return (
    <div class="actions">
      {alert.state === "FIRING" ? (
        <button
          type="button"
          disabled={acknowledge.busy}
          aria-label={`Acknowledge: ${what}`}
          onClick={async () => {
            const data = await acknowledge.run({ id: alert.id }, "Acknowledged.");
            if (data?.acknowledgeAlert.alert) onChanged(data.acknowledgeAlert.alert);
          }}
        >
          Acknowledge
        </button>
      ) : null}
      <span class="inline-field">
        <label>
          Snooze for{" "}
          <select value={hours} onChange={(e) => setHours(Number(e.currentTarget.value))}>
            {SNOOZES.map(([text, h]) => (
              <option value={h}>{text}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={snooze.busy}
          aria-label={`Snooze: ${what}`}
          onClick={async () => {
            const until = new Date(Date.now() + hours * 3_600_000).toISOString();
            const data = await snooze.run({ id: alert.id, until }, "Snoozed.");
            if (data?.snoozeAlert.alert) onChanged(data.snoozeAlert.alert);
          }}
        >
          Snooze
        </button>
      </span>
      <button
        type="button"
        class="secondary"
        disabled={resolve.busy}
        aria-label={`Resolve: ${what}`}
        onClick={async () => {
          const data = await resolve.run({ id: alert.id }, "Resolved.");
          if (data?.resolveAlert.alert) onChanged(data.resolveAlert.alert);
        }}
      >
        Resolve
      </button>
      <MutationStatus state={acknowledge} />
      <MutationStatus state={snooze} />
      <MutationStatus state={resolve} />
    </div>
  );
}

function AlertItem({ alert, highlighted, onChanged }: { alert: Alert; highlighted: boolean; onChanged: (a: Alert) => void }) {
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (highlighted) ref.current?.scrollIntoView({ block: "center" });
  }, [highlighted]);
  const e = alert.evidence;
  return (
    <li
      ref={ref}
      class={`alert alert-${alert.severity.toLowerCase()}${highlighted ? " highlighted" : ""}`}
      aria-current={highlighted ? "true" : undefined}
      tabIndex={highlighted ? -1 : undefined}
    >
      <p class="alert-head">
        <span class={`badge severity-${alert.severity.toLowerCase()}`}>{alert.severity.toLowerCase()}</span>{" "}
        <span class="badge">{alert.state.toLowerCase()}</span>
        {alert.snoozed ? <span class="badge">snoozed until {dateTime(alert.snoozedUntil)}</span> : null}{" "}
        <strong>{alert.message}</strong>
      </p>
      <p class="alert-meta">
        {label(alert.kind.toLowerCase())} · {label(alert.metric)}
        {alert.actionType ? ` · ${label(alert.actionType)}` : ""} ·{" "}
        {alert.agent ? (
          <a
            href={`?view=rep&agent=${encodeURIComponent(alert.agent.id)}`}
            onClick={(ev) => {
              ev.preventDefault();
              navigate({ view: "rep", agent: alert.agent!.id, alert: null });
            }}
          >
            {alert.agent.name}
          </a>
        ) : (
          (alert.team?.name ?? "organisation")
        )}{" "}
        · fired {dateTime(alert.firedAt)}
        {alert.acknowledgedAt ? ` · acknowledged ${dateTime(alert.acknowledgedAt)} by ${alert.acknowledgedBy?.name ?? "someone"}` : ""}
        {alert.resolvedAt ? ` · resolved ${dateTime(alert.resolvedAt)}${alert.resolvedBy ? ` by ${alert.resolvedBy.name}` : ""}` : ""}
      </p>
      <p class="alert-meta">
        Evidence: value {decimal(e.value)}
        {e.baseline != null ? `, baseline ${decimal(e.baseline)}` : ""}
        {e.n != null ? `, n = ${integer(e.n)}` : ""}
        {e.window ? `, ${e.window.start} to ${e.window.end}` : ""}
      </p>
      <AlertActions alert={alert} onChanged={onChanged} />
    </li>
  );
}

export function AlertsPanel({
  team,
  agent,
  highlight,
  title = "Alerts",
}: {
  team?: string | null;
  agent?: string | null;
  highlight?: string | null;
  title?: string;
}) {
  const [open, setOpen] = useState(true);
  const [tick, setTick] = useState(0);
  const variables = { states: open ? (["FIRING", "ACKNOWLEDGED"] as const).slice() : null, team: team ?? null, agent: agent ?? null };
  const state = useQuery(AlertsDocument, variables, { refresh: tick });
  // alerts changed since the list was read (live events, the person's own actions), by id
  const [changed, setChanged] = useState<Map<string, Alert>>(new Map());
  const [announcement, setAnnouncement] = useState("");
  const versions = useRef(new StreamVersions());
  const followed = useQuery(AlertNodeDocument, { id: highlight ?? "" }, { skip: !highlight });

  useEffect(() => setChanged(new Map()), [state.status === "done" ? state.data : null]);

  const update = (alert: Alert) => setChanged((previous) => new Map(previous).set(alert.id, alert));
  const reread = () => setTick((t) => t + 1);

  useSubscription(
    AlertChangedDocument,
    { team: team ?? null, agent: agent ?? null },
    (data) => {
      const event = data.alertChanged;
      setAnnouncement(`Alert ${event.change.toLowerCase()}: ${event.alert.message}`);
      if (versions.current.seen(event.stream, event.version) === "gap") reread();
      execute(AlertNodeDocument, { id: event.alert.id }).then(
        (result) => {
          if (result.node && "id" in result.node) update(result.node as Alert);
        },
        () => reread(),
      );
    },
    reread,
  );

  return (
    <section aria-labelledby="alerts-title" id="alerts">
      <h2 id="alerts-title">{title}</h2>
      <p class="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>
      <fieldset class="toggle">
        <legend>Show</legend>
        <label>
          <input type="radio" name="alert-states" checked={open} onChange={() => setOpen(true)} /> open alerts
        </label>
        <label>
          <input type="radio" name="alert-states" checked={!open} onChange={() => setOpen(false)} /> all alerts
        </label>
      </fieldset>
      {followed.status === "done" && followed.data.node && "id" in followed.data.node ? (
        <FollowedAlert alert={changed.get(followed.data.node.id) ?? (followed.data.node as Alert)} onChanged={update} />
      ) : followed.status === "done" ? (
        <p class="status">The alert in the link is not one you can see (or it no longer exists).</p>
      ) : null}
      <QueryResult state={state} what="alerts">
        {(data) => {
          const listed = data.alerts.edges.map((e) => changed.get(e.node.id) ?? e.node);
          const ids = new Set(listed.map((a) => a.id));
          // alerts that appeared live, newest first above the list
          const fresh = [...changed.values()].filter((a) => !ids.has(a.id) && (!open || a.state !== "RESOLVED"));
          const all = [...fresh.reverse(), ...listed].filter((a) => a.id !== highlight);
          if (all.length === 0) return <p class="status status-empty">{open ? "No open alerts." : "No alerts."}</p>;
          return (
            <>
              <p class="subtitle">
                {integer(data.alerts.totalCount ?? listed.length)} {open ? "open" : ""} alerts
                {fresh.length ? `, ${fresh.length} new since` : ""}, newest first.
              </p>
              <ul class="alerts" aria-label={open ? "Open alerts" : "All alerts"}>
                {all.map((alert) => (
                  <AlertItem key={alert.id} alert={alert} highlighted={false} onChanged={update} />
                ))}
              </ul>
            </>
          );
        }}
      </QueryResult>
    </section>
  );
}

function FollowedAlert({ alert, onChanged }: { alert: Alert; onChanged: (a: Alert) => void }) {
  return (
    <ul class="alerts" aria-label="The alert you followed">
      <AlertItem alert={alert} highlighted onChanged={onChanged} />
    </ul>
  );
}
