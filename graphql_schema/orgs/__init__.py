"""GraphQL: orgs."""
