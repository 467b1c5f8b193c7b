"""What the Sales Agent did: its actions, with the confidence it stated for each."""
