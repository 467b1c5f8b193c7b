"""ROI assumptions: the figures behind the agent's return on investment (hourly cost, minutes
per task, value per outcome, platform cost, ...), versioned with effective dates and audited."""
