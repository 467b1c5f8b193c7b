"""Strawberry GraphQL schema: types, queries, mutations, subscriptions."""
