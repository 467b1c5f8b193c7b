"""GraphQL: actions."""
