"""Agent policies: the thresholds in force per agent and action type, the decisions taken from
them, and every change (automatic or by a person) audited."""
