"""Where launches come from: the chain, pump.fun's web API, and the clients of every upstream
(the one JSON-RPC client, metadata documents, holder counts), with their resilience. Knows nothing
of the pipeline; reads Django settings only in clients.py."""
