"""Analytics: the role dashboards (rep, team, executive) from set-based aggregates."""
