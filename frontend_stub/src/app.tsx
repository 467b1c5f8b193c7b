// The shell: who is asking, the navigation between views, the filters, and the view the URL
// names. A person who opens `/` lands on their role's view.

import { useEffect } from "preact/hooks";
import { useQuery } from "./api/use-query";
import { FilterBar } from "./components/filters";
import { RouteLink } from "./components/link";
import { Empty, QueryResult } from "./components/status";
import { navigate, useRoute, type Route, type ViewName } from "./router";
import { CalibrationView } from "./views/calibration/calibration-view";
import { ExecutiveView } from "./views/executive/executive-view";
import { ManagerView } from "./views/manager/manager-view";
import { RepView } from "./views/rep/rep-view";
import { ServiceView } from "./views/service/service-view";
import { homeView, ViewerDocument, type Viewer } from "./viewer";

const VIEW_LABELS: Record<ViewName, string> = {
  rep: "My agent",
  manager: "My team",
  executive: "Organisation",
  calibration: "Calibration",
  service: "Service",
};

/** The views a role may open, its own first. */
function viewsFor(viewer: Viewer): ViewName[] {
  switch (viewer.role) {
    case "REP":
      return ["rep", "calibration"];
    case "MANAGER":
      return ["manager", "rep", "calibration"];
    case "EXECUTIVE":
    case "ADMIN":
      return ["executive", "manager", "rep", "calibration"];
    default:
      return [];
  }
}

function Navigation({ views, route }: { views: ViewName[]; route: Route }) {
  return (
    <nav aria-label="Views">
      <ul>
        {[...views, "service" as const].map((view) => (
          <li>
            <RouteLink to={{ view }} current={route.view === view}>
              {VIEW_LABELS[view]}
            </RouteLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function RoleView({ route, viewer }: { route: Route; viewer: Viewer }) {
  switch (route.view) {
    case "rep":
      return <RepView route={route} viewer={viewer} />;
    case "manager":
      return <ManagerView route={route} />;
    case "executive":
      return <ExecutiveView route={route} />;
    case "calibration":
      return <CalibrationView route={route} />;
    default:
      return null;
  }
}

function SignedIn({ route, viewer }: { route: Route; viewer: Viewer }) {
  const home = homeView(viewer);
  useEffect(() => {
    if (route.view === null && home) navigate({ view: home }, { replace: true });
  }, [route.view, home]);
  if (!home) {
    return <Empty>The dashboard is for people; API keys ({viewer.role.toLowerCase()}) use the GraphQL API directly.</Empty>;
  }
  return (
    <>
      <Navigation views={viewsFor(viewer)} route={route} />
      <p class="who">
        Signed in as {viewer.user?.name ?? viewer.role.toLowerCase()}
        {viewer.organization ? `, ${viewer.organization.name}` : ""}
      </p>
      <FilterBar route={route} viewer={viewer} />
      <RoleView route={route} viewer={viewer} />
    </>
  );
}

export function App() {
  const route = useRoute();
  const viewerState = useQuery(ViewerDocument, {}, { skip: route.view === "service" });
  return (
    <>
      <header>
        <h1>Sales Agent Learning</h1>
        <p>Outcomes, feedback, live calibration and policy of the AI Sales Agent.</p>
      </header>
      <main id="main">
        {route.view === "service" ? (
          <>
            <nav aria-label="Views">
              <ul>
                <li>
                  <RouteLink to={{ view: null }}>Dashboard</RouteLink>
                </li>
              </ul>
            </nav>
            <ServiceView />
          </>
        ) : (
          <QueryResult state={viewerState} what="who you are">
            {(data) => <SignedIn route={route} viewer={data.viewer} />}
          </QueryResult>
        )}
        {route.view !== "service" && viewerState.status === "error" ? (
          <p>
            <RouteLink to={{ view: "service" }}>Service health, API links and demo logins</RouteLink>
          </p>
        ) : null}
      </main>
    </>
  );
}
