"""Speed benchmarks (pytest-benchmark), run apart from the test suite: ``pytest benchmarks --benchmark-only``."""
