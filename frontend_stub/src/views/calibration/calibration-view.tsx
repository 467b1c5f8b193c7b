// The calibration view. TODO (issue #15): reliability diagram with interval bars per action
// type (charts/reliability.ts), the verdict and its evidence, the policy history, live updates
// (calibrationChanged, policyChanged).

import type { Route } from "../../router";

export function CalibrationView({ route }: { route: Route; viewer: unknown }) {
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title">Calibration</h2>
      <p class="todo">
        TODO (#15): this view is not built yet. It will show how reliable the agent's confidence is
        {route.actionType ? ` for ${route.actionType.replace("_", " ")}` : " per action type"}.
      </p>
    </section>
  );
}
