"""Benchmarks of the real presence-agent (``python -m benchmarks``) and the fleet simulation.

See benchmarks/README.md.
"""
