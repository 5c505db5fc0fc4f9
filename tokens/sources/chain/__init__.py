"""pump.fun on the Solana chain: addresses, transactions, events, curves, launches, the chain source."""
