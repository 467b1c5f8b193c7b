"""The demo's tests share the full-size seed of ``tests/backend/conftest.py``."""
