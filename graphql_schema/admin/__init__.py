"""GraphQL: administration of an organisation (administrators only)."""
