"""Signed webhooks through which e-mail providers and CRMs deliver signals.

See docs/webhooks.md for the endpoints, headers and the signing recipe.
"""
