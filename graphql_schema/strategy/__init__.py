"""GraphQL of the strategic view: `strategicView`, `whatIf`, `dealWinProbability` and
`winProbabilityReliability`."""
