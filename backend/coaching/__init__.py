"""Coaching insights: patterns in outcomes and feedback a sales team can act on."""
