"""Shared test helpers: free ports, a private redis-server, service processes."""
