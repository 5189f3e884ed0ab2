"""Benchmarks of autoheal against a real Docker engine: `python3 -m bench all --n 10,50,200`."""
