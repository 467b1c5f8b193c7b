"""Feedback prompts: asking the rep for a judgment on a critical action, or on a routine one
where a judgment is worth most, within a daily budget."""
