"""GraphQL surface of coaching: `coachingInsights`, `decideCoachingInsight`,
`refreshCoachingInsights`."""
