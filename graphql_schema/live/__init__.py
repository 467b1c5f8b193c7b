"""GraphQL: live events (subscriptions over graphql-transport-ws), checked at every delivery."""
