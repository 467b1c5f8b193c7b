"""Notifications: e-mails about alerts, kept in an outbox and delivered by the worker."""
