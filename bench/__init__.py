"""Benchmarks for the gateway: `make bench` runs `python -m bench` (see bench/__main__.py)."""
