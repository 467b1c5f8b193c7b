"""GraphQL: outcomes."""
