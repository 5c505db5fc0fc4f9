"""A run's life: parameters, the pipeline that drives a source, the queue, leases kept, workers,
the always-on feed, the server's tasks."""
