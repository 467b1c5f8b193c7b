// Who is asking: the landing query, and which view each role lands on.

import { graphql } from "./gql";
import type { ViewerQuery } from "./gql/graphql";
import type { ViewName } from "./router";

export const ViewerDocument = graphql(`
  query Viewer {
    viewer {
      role
      seesWholeOrganization
      organization {
        name
        timezone
      }
      user {
        id
        name
        email
        team {
          id
          name
        }
      }
      agents {
        id
        name
        team {
          id
          name
        }
      }
    }
  }
`);

export type Viewer = ViewerQuery["viewer"];

/** The view a role lands on; null for API keys, which the dashboard is not for. */
export function homeView(viewer: Viewer): ViewName | null {
  switch (viewer.role) {
    case "REP":
      return "rep";
    case "MANAGER":
      return "manager";
    case "EXECUTIVE":
    case "ADMIN":
      return "executive";
    default:
      return null;
  }
}

/** The teams of the agents the viewer sees, by name. */
export function teamsOf(viewer: Viewer): { id: string; name: string }[] {
  const teams = new Map<string, string>();
  for (const agent of viewer.agents) if (agent.team) teams.set(agent.team.id, agent.team.name);
  return [...teams].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name));
}
