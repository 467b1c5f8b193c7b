"""Alerts: rules on metrics (thresholds and statistical anomalies) and the events they fire."""
