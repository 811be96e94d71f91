"""Start the signal service: ``python -m services.signal``.

Signal signs its calls to execution (automated orders), so ``IDENTITY_SIGNING_KEY_FILE`` is
required; without it, or with a key it cannot read, the start stops with one line naming it.
"""

from __future__ import annotations

import sys

import grpc.aio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.config import load_settings
from services.common.identity import IdentityError, load_private_key
from services.common.server import ServiceDefinition, run_service
from services.signal.access import SIGNAL_ACCESS
from services.signal.config import SignalSettings
from services.signal.runtime import SignalRuntime
from services.signal.servicer import SignalServicer
from trading.signal.v1 import signal_pb2_grpc


def signing_key(settings: SignalSettings) -> Ed25519PrivateKey:
    path = settings.identity_signing_key_file
    if path is None:
        print(
            "configuration error: IDENTITY_SIGNING_KEY_FILE is required but not set "
            "(signal signs its calls to execution)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    try:
        return load_private_key(path)
    except (OSError, ValueError, IdentityError) as exc:
        print(
            f"configuration error: IDENTITY_SIGNING_KEY_FILE is malformed: {exc}", file=sys.stderr
        )
        raise SystemExit(2) from exc


def main() -> None:
    settings = load_settings(SignalSettings)
    runtime = SignalRuntime(settings, signing_key(settings))

    def register(server: grpc.aio.Server) -> None:
        signal_pb2_grpc.add_SignalServiceServicer_to_server(SignalServicer(runtime), server)

    run_service(
        ServiceDefinition(
            "signal",
            [SIGNAL_ACCESS.service],
            SIGNAL_ACCESS,
            register,
            on_start=[runtime.start],
            on_stop=[runtime.stop],
        ),
        settings,
    )


if __name__ == "__main__":
    main()
