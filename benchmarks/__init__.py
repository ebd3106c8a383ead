"""Benchmarks: figures for the README table, never timed assertions in tests."""
