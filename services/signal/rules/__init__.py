"""Rules: price threshold, moving-average crossover, breakout and RSI, evaluated on market data."""
