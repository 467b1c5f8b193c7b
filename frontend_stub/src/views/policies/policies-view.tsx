import type { Route } from "../../router";
import type { Viewer } from "../../viewer";

export function PoliciesView(_: { route: Route; viewer: Viewer }) {
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title">Policies</h2>
    </section>
  );
}
