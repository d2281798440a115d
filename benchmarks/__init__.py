"""Benchmarks for image-service: run them all with ``make bench`` (``python -m benchmarks.run``).

Every benchmark measures the project side by side with a reference in the same run and reports a
ratio, because the machines are shared and noisy; see docs/PERFORMANCE.md for the figures.
"""
