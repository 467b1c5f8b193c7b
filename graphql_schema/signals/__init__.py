"""GraphQL: signals."""
