"""PumpPortal's websocket (`wss://pumpportal.fun/api/data`), a second live source of new launches: it
only follows (no history), and it misses some creates the chain shows, so it is merged beside the
chain's tail, never instead of it (LIVE_SOURCES=pumpportal)."""
