"""Human judgments of what the agent did: reactions, prompted ratings and thread reviews."""
