"""Human baselines: how a team performs without the agent, for ROI and comparisons."""
