"""What is stored and how it is judged: validation, filters, the batch upsert and the board cursor
(with the lock order), re-judging, the reads the board and the API share, a run's lease."""
