"""Demo data: ``seed_demo`` fills an empty database with deterministic, realistic organisations."""

from backend.demo.people import DemoLogin
from backend.demo.seed import DatabaseNotEmptyError, SeedReport, seed_demo

__all__ = ["DatabaseNotEmptyError", "DemoLogin", "SeedReport", "seed_demo"]
