"""Retrospective thread reviews: assignments, reviews, agreement; quality metrics of feedback."""
