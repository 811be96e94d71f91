"""tradectl: the command-line client internal teams use to call the trading platform."""
