// The shell: who is asking, the navigation between views, the filters, and the view the URL
// names. A person who opens `/` lands on their role's view.

import { useEffect } from "preact/hooks";
import { useQuery } from "./api/use-query";
import { FilterBar } from "./components/filters";
import { RouteLink } from "./components/link";
import { Empty, QueryResult } from "./components/status";
import { LiveIndicator } from "./components/live-indicator";
import { SignInLink, SignOut, useSession } from "./components/session";
import { navigate, useRoute, type Route } from "./router";
import { CalibrationView } from "./views/calibration/calibration-view";
import { ExecutiveView } from "./views/executive/executive-view";
import { ManagerView } from "./views/manager/manager-view";
import { RepView } from "./views/rep/rep-view";
import { PoliciesView } from "./views/policies/policies-view";
import { ReviewsView } from "./views/reviews/reviews-view";
import { ServiceView } from "./views/service/service-view";
import { homeView, ViewerDocument, type Viewer } from "./viewer";

type MainView = "rep" | "manager" | "executive" | "calibration" | "reviews" | "policies";

function viewLabel(view: MainView, viewer: Viewer): string {
  switch (view) {
    case "rep":
      return viewer.role === "REP" ? "My agent" : "Agent";
    case "manager":
      return viewer.role === "MANAGER" ? "My team" : "Team";
    case "executive":
      return "Organisation";
    case "calibration":
      return "Calibration";
    case "reviews":
      return "Review queue";
    case "policies":
      return "Policies";
  }
}

/** The views a role may open, its own first. */
function viewsFor(viewer: Viewer): MainView[] {
  switch (viewer.role) {
    case "REP":
      return ["rep", "calibration", "reviews"];
    case "MANAGER":
      return ["manager", "rep", "calibration", "reviews", "policies"];
    case "EXECUTIVE":
    case "ADMIN":
      return ["executive", "manager", "rep", "calibration", "reviews", "policies"];
    default:
      return [];
  }
}

/**
 * The view to draw and the section to bring into sight. Links from e-mails name sections
 * (`?view=coaching`, `alerts`, `labels`, `prompts`, `strategy`) or only an id (`?team=3`,
 * `?agent=7`, `?alert=12`): each opens the view that holds it for this viewer.
 */
export function resolveView(route: Route, viewer: Viewer): { view: MainView; focus: string | null } {
  const home = (homeView(viewer) ?? "rep") as MainView;
  switch (route.view) {
    case "coaching":
      return { view: "manager", focus: "coaching" };
    case "alerts":
      return { view: home, focus: "alerts" };
    case "labels":
      return { view: viewer.role === "REP" ? "rep" : "manager", focus: "labels" };
    case "prompts":
      return { view: viewer.role === "REP" ? "rep" : "manager", focus: "prompts" };
    case "strategy":
      return { view: "executive", focus: "strategy" };
    case null:
    case "service":
      if (route.agent) return { view: "rep", focus: null };
      if (route.team) return { view: "manager", focus: null };
      return { view: home, focus: route.alert ? "alerts" : null };
    default:
      return { view: route.view, focus: null };
  }
}

function Navigation({ views, current, viewer }: { views: MainView[]; current: MainView; viewer: Viewer }) {
  return (
    <nav aria-label="Views">
      <ul>
        {views.map((view) => (
          <li>
            <RouteLink to={{ view, alert: null, thread: null }} current={current === view}>
              {viewLabel(view, viewer)}
            </RouteLink>
          </li>
        ))}
        <li>
          <RouteLink to={{ view: "service" }}>Service</RouteLink>
        </li>
      </ul>
    </nav>
  );
}

function RoleView({ view, route, viewer }: { view: MainView; route: Route; viewer: Viewer }) {
  switch (view) {
    case "rep":
      return <RepView route={route} viewer={viewer} />;
    case "manager":
      return <ManagerView route={route} viewer={viewer} />;
    case "executive":
      return <ExecutiveView route={route} viewer={viewer} />;
    case "calibration":
      return <CalibrationView route={route} viewer={viewer} />;
    case "reviews":
      return <ReviewsView route={route} viewer={viewer} />;
    case "policies":
      return <PoliciesView route={route} viewer={viewer} />;
  }
}

/** Brings a section into sight once it is drawn (its data may still be loading). */
function useFocusSection(focus: string | null): void {
  useEffect(() => {
    if (!focus) return;
    let tries = 0;
    const timer = window.setInterval(() => {
      const heading = document.getElementById(`${focus}-title`);
      if (heading || ++tries > 50) window.clearInterval(timer);
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.scrollIntoView({ block: "start" });
        heading.focus({ preventScroll: true });
      }
    }, 100);
    return () => window.clearInterval(timer);
  }, [focus]);
}

function SignedIn({ route, viewer }: { route: Route; viewer: Viewer }) {
  const session = useSession();
  const home = homeView(viewer);
  const { view, focus } = resolveView(route, viewer);
  useEffect(() => {
    // `/`, `/?team=3`, `/?agent=7`, `/?alert=12`: name the view in the address (ids as global ids)
    if (route.view === null && home) navigate({ view }, { replace: true });
  }, [route.view, home, view]);
  useFocusSection(focus);
  if (!home) {
    return <Empty>The dashboard is for people; API keys ({viewer.role.toLowerCase()}) use the GraphQL API directly.</Empty>;
  }
  return (
    <>
      <Navigation views={viewsFor(viewer)} current={view} viewer={viewer} />
      <div class="bar">
        <p class="who">
          Signed in as {viewer.user?.name ?? viewer.role.toLowerCase()} ({viewer.role.toLowerCase()})
          {viewer.organization ? `, ${viewer.organization.name}` : ""}
        </p>
        <LiveIndicator />
        <SignOut session={session} />
      </div>
      <FilterBar route={route} viewer={viewer} />
      <RoleView view={view} route={route} viewer={viewer} />
    </>
  );
}

function SignInFromError() {
  return <SignInLink session={useSession()} />;
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
        {route.view !== "service" && viewerState.status === "error" ? <SignInFromError /> : null}
        {route.view !== "service" && viewerState.status === "error" ? (
          <p>
            <RouteLink to={{ view: "service" }}>Service health, API links and demo logins</RouteLink>
          </p>
        ) : null}
      </main>
    </>
  );
}
