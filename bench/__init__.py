"""Benchmarks that print numbers (speed, quality, load, crash recovery): run them from the project root as
modules, e.g. `python -m bench.load`. Their support code shared with the tests is in testing/."""
