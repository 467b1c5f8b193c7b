"""GraphQL: retrospective thread reviews."""
