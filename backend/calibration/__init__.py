"""Calibration of the agent's confidence per action type: sufficient statistics, verdicts and
the recalibration map in force (the policy it drives lives in backend/policy)."""
