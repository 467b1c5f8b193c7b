"""What came of each action, per outcome type and window, on that outcome's scale."""
