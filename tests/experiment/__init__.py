"""Tests of the experiment layer: table jobs, run claims, the runner, pretraining (helpers: `tests.train`)."""
