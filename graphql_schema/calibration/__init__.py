"""GraphQL of calibration: `calibration`, `calibrationHistory`, `policy`, `policyHistory`."""
