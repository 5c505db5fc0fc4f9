"""Tests of tokens/details: details after rows, their queue across restarts, the supervised stage."""
