// The manager's view. TODO (issue #15): the team's trend and totals, its agents side by side
// (dot-and-interval, click to drill down into an agent), coaching opportunities, live alerts.

import type { Route } from "../../router";

export function ManagerView({ route }: { route: Route }) {
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title">My team</h2>
      <p class="todo">
        TODO (#15): this view is not built yet. It will compare the team's agents{route.team ? " of the chosen team" : ""} with
        intervals, show the trend and the coaching opportunities.
      </p>
    </section>
  );
}
