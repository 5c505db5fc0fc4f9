"""pump.fun's frontend API: the client, its paging and its tail (it reaches the newest hour only)."""
