"""Calibration of the agent's confidence per action type, and the policy it drives."""
