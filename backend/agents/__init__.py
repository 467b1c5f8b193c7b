"""Sales Agent instances: each owned by a rep, in a team."""
