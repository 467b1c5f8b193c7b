import type { Route } from "../../router";
import type { Viewer } from "../../viewer";

export function ReviewsView(_: { route: Route; viewer: Viewer }) {
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title">Review queue</h2>
    </section>
  );
}
