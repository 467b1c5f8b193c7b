"""GraphQL: the role dashboards (rep, team, executive)."""
