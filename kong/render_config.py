#!/usr/bin/env python3
"""Kong container entrypoint: build the declarative config from kong.yml and the consumers
template, filling each `${secret:NAME}` with the docker secret /run/secrets/NAME, then exec
the official entrypoint. Keys live only in the secrets and in the rendered file (mode 0600,
under the tmpfs prefix), never in the image or the repository.

Environment: KONG_DECLARATIVE_CONFIG (output, required), KONG_CONFIG_BASE, KONG_CONSUMERS_TEMPLATE,
KONG_SECRETS_DIR. Standard library only: it runs on the Kong image's plugin interpreter.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{secret:([a-z0-9_]+)\}")
# Kong apikeys as dev_secrets.py makes them (urlsafe base64); the narrow alphabet also rules out
# quotes, newlines and YAML syntax, so a substituted value cannot change the document's shape.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,128}")
TOP_LEVEL_CONSUMERS = re.compile(r"^consumers\s*:", re.MULTILINE)

DEFAULT_BASE = "/etc/kong/declarative/kong.yml"
DEFAULT_TEMPLATE = "/etc/kong/declarative/consumers.yml.tmpl"
DEFAULT_SECRETS_DIR = "/run/secrets"


class RenderError(Exception):
    """The config cannot be built; the message names the file or secret at fault."""


def placeholders(template: str) -> list[str]:
    """The secret names a template refers to, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def read_secret_file(secrets_dir: Path, name: str) -> str:
    path = secrets_dir / name
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise RenderError(f"secret {name}: cannot read {path}: {exc.strerror}") from exc
    if not KEY_PATTERN.fullmatch(value):
        raise RenderError(f"secret {name}: not an apikey (32-128 chars of A-Z a-z 0-9 _ -)")
    return value


def render(template: str, read_secret: Callable[[str], str]) -> str:
    values = {name: read_secret(name) for name in placeholders(template)}
    rendered = PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    if "${" in rendered:
        raise RenderError("template has a placeholder that is not ${secret:name}")
    return rendered


def build_config(base: str, consumers: str) -> str:
    """kong.yml followed by the rendered consumers section."""
    if TOP_LEVEL_CONSUMERS.search(base):
        raise RenderError("kong.yml must not define consumers; they come from the template")
    if not TOP_LEVEL_CONSUMERS.search(consumers):
        raise RenderError("the consumers template defines no top-level consumers")
    return base.rstrip("\n") + "\n\n" + consumers.rstrip("\n") + "\n"


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)


def render_to_file(output: Path, base: Path, template: Path, secrets_dir: Path) -> None:
    try:
        base_text = base.read_text(encoding="utf-8")
        template_text = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    consumers = render(template_text, lambda name: read_secret_file(secrets_dir, name))
    write_private(output, build_config(base_text, consumers))


def main(argv: Sequence[str]) -> int:
    output = os.environ.get("KONG_DECLARATIVE_CONFIG")
    if not output:
        sys.stderr.write("render_config: KONG_DECLARATIVE_CONFIG is not set\n")
        return 2
    try:
        render_to_file(
            Path(output),
            Path(os.environ.get("KONG_CONFIG_BASE", DEFAULT_BASE)),
            Path(os.environ.get("KONG_CONSUMERS_TEMPLATE", DEFAULT_TEMPLATE)),
            Path(os.environ.get("KONG_SECRETS_DIR", DEFAULT_SECRETS_DIR)),
        )
    except RenderError as exc:
        sys.stderr.write(f"render_config: {exc}\n")
        return 1
    if argv:
        os.execvp(argv[0], list(argv))  # noqa: S606 - the image's own entrypoint, no shell
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
