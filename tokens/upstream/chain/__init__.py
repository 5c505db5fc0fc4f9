"""pump.fun launches read from the Solana chain: any JSON-RPC provider, no pump.fun web API."""
