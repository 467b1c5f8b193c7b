"""Partner webhooks: organisations' endpoints, and the signed deliveries of alert, calibration
and policy events to them, kept in an outbox and sent by the worker."""
