"""GraphQL of periodic reports: subscriptions, their runs and deliveries, the preview."""
