// The filter bar: range, team, agent and action type, each a labelled control whose value lives
// in the URL (changing one navigates, so back and forward and shared links keep them).

import { navigate, RANGE_PRESETS, type Route } from "../router";
import { teamsOf, type Viewer } from "../viewer";

export const ACTION_TYPES = ["email", "follow_up", "meeting", "escalation", "stage_progression"];

const RANGE_LABELS: Record<string, string> = { "7d": "Last 7 days", "28d": "Last 28 days", "90d": "Last 90 days" };

export function FilterBar({ route, viewer }: { route: Route; viewer: Viewer }) {
  const teams = teamsOf(viewer);
  const agents = viewer.agents.filter((a) => !route.team || a.team?.id === route.team);
  const custom = !(RANGE_PRESETS as readonly string[]).includes(route.range);
  return (
    <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <label>
        Range
        <select value={route.range} onChange={(e) => navigate({ range: e.currentTarget.value })}>
          {RANGE_PRESETS.map((r) => (
            <option value={r}>{RANGE_LABELS[r]}</option>
          ))}
          {custom ? <option value={route.range}>{route.range.replace("..", " to ")}</option> : null}
        </select>
      </label>
      {teams.length > 1 ? (
        <label>
          Team
          <select value={route.team ?? ""} onChange={(e) => navigate({ team: e.currentTarget.value || null, agent: null })}>
            <option value="">All teams</option>
            {teams.map((t) => (
              <option value={t.id}>{t.name}</option>
            ))}
          </select>
        </label>
      ) : null}
      {agents.length > 1 ? (
        <label>
          Agent
          <select value={route.agent ?? ""} onChange={(e) => navigate({ agent: e.currentTarget.value || null })}>
            <option value="">All agents</option>
            {agents.map((a) => (
              <option value={a.id}>{a.name}</option>
            ))}
          </select>
        </label>
      ) : null}
      <label>
        Action type
        <select value={route.actionType ?? ""} onChange={(e) => navigate({ actionType: e.currentTarget.value || null })}>
          <option value="">All action types</option>
          {ACTION_TYPES.map((t) => (
            <option value={t}>{t.replace("_", " ")}</option>
          ))}
        </select>
      </label>
    </form>
  );
}
