"""Organisations, teams and the people in them."""
