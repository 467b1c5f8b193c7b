"""GraphQL: feedback."""
