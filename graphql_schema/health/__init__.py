"""GraphQL: the service health query."""
