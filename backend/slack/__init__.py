"""Feedback in Slack: the agent's work mirrored to its rep with rating buttons, the signed
interaction and event webhooks that turn clicks, comments and reactions into feedback.

See docs/slack.md for installing the Slack app and how its feedback maps.
"""
