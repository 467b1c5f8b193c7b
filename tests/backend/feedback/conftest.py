"""The feedback summary is read over the reviews' world (threads, reviews, ratings)."""

from tests.backend.reviews.conftest import reviews  # noqa: F401
