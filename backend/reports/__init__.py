"""Periodic reports: who subscribes to which report, and each run of one."""
