"""The trade stream's side of the board: trades, candles and holdings from pump's `TradeEvent`s, and
the per-token figures a trader scans (volume, buys/sells, price change, developer, snipers, bundles,
top 10)."""
