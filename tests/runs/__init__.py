"""Tests of tokens/runs: a run's life, resume, ownership, the feed, the commands."""
