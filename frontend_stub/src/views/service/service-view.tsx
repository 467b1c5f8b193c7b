// The service page (what the old landing page showed): readiness through the API's `health`
// query, refreshed every 10 seconds, the links for developers, and the demo logins.

import { useEffect, useState } from "preact/hooks";
import { graphql } from "../../gql";
import { useQuery } from "../../api/use-query";
import { QueryResult } from "../../components/status";

export const ServiceHealthDocument = graphql(`
  query ServiceHealth {
    health {
      ok
      database
      broker
      version
    }
  }
`);

const good = (value: string) => value === "ok" || value === "in-process";

function HealthTable() {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = window.setInterval(() => setTick((t) => t + 1), 10_000);
    return () => window.clearInterval(timer);
  }, []);
  const state = useQuery(ServiceHealthDocument, {}, { refresh: tick });
  return (
    <QueryResult state={state} what="the service's health">
      {({ health }) => (
        <table class="health">
          <tbody>
            <tr>
              <th scope="row">Service</th>
              <td class={health.ok ? "good" : "bad"}>{health.ok ? "ok" : "not ready"}</td>
            </tr>
            <tr>
              <th scope="row">Database</th>
              <td class={good(health.database) ? "good" : "bad"}>{health.database}</td>
            </tr>
            <tr>
              <th scope="row">Broker</th>
              <td class={good(health.broker) ? "good" : "bad"}>{health.broker}</td>
            </tr>
            <tr>
              <th scope="row">Version</th>
              <td>{health.version}</td>
            </tr>
          </tbody>
        </table>
      )}
    </QueryResult>
  );
}

export function ServiceView() {
  return (
    <>
      <section aria-labelledby="health-title">
        <h2 id="health-title">Service health</h2>
        <HealthTable />
      </section>
      <section aria-labelledby="api-title">
        <h2 id="api-title">API</h2>
        <p>
          <a href="/graphql">GraphiQL</a>: explore the GraphQL API. Send <code>Authorization: Bearer &lt;token&gt;</code>.
        </p>
        <p>
          Probes: <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a>
        </p>
      </section>
      <section aria-labelledby="logins-title">
        <h2 id="logins-title">Demo logins</h2>
        <p>
          The demo organisation <code>demo</code> is seeded by <code>python -m backend seed-demo</code> (or{" "}
          <code>serve --demo</code>). A token: <code>python -m backend issue-token --email rep1@demo.example</code>, then open{" "}
          <code>/#token=&lt;token&gt;</code>.
        </p>
        <table>
          <thead>
            <tr>
              <th scope="col">Login</th>
              <th scope="col">Role</th>
              <th scope="col">Sees</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>exec@demo.example</td>
              <td>executive</td>
              <td>the whole organisation, ROI</td>
            </tr>
            <tr>
              <td>manager1@demo.example … manager3@demo.example</td>
              <td>manager</td>
              <td>their team</td>
            </tr>
            <tr>
              <td>rep1@demo.example … rep12@demo.example</td>
              <td>rep</td>
              <td>their own agent</td>
            </tr>
            <tr>
              <td>exec@acme.example</td>
              <td>executive</td>
              <td>a second organisation, to see isolation</td>
            </tr>
          </tbody>
        </table>
      </section>
    </>
  );
}
