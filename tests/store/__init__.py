"""Tests of tokens/store: validation, filters, the batch upsert and its lock order, re-judging."""
