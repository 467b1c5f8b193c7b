"""GraphQL: viewer."""
