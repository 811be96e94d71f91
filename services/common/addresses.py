"""host:port parsing for listen addresses and dial targets."""

from __future__ import annotations


def parse_host_port(value: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:50051`` for IPv6), raising ValueError naming what is wrong."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected host:port, got {value!r}")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"port must be a number from 1 to 65535, got {port_text!r}")
    return host.strip("[]"), int(port_text)
