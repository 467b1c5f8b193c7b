"""GraphQL of the ROI assumptions: their audit trail and how executives change them."""
