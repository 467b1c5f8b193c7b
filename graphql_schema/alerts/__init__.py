"""GraphQL surface of alerts: `alerts`, `alertRules` (with each rule's `history`),
`upsertAlertRule`, `deleteAlertRule`, `acknowledgeAlert`, `resolveAlert`, `snoozeAlert`."""
