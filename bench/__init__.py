"""Benchmarks: ratios measured against a baseline in the same run, printed as `name: value (goal ...)`."""
