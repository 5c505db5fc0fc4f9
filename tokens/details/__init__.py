"""Details after rows: the durable detail queue, the fetch stage and its loops, one per process."""
