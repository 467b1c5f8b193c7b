"""GraphQL of partner webhooks: endpoints, their delivery log, redelivery."""
