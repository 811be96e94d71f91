"""The Kong entrypoint's config rendering: placeholders filled from secret files, or a refusal
that names what is wrong."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from kong import render_config

TEMPLATE = 'consumers:\n  - username: a\n    keyauth_credentials:\n      - key: "${secret:key_a}"\n'
BASE = '_format_version: "3.0"\nservices: []\n'
KEY = "Zm9vYmFyYmF6cXV4cXV1eHh5enp5MTIzNDU2Nzg5MA"


def secrets_folder(tmp_path: Path, value: str = KEY) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "key_a").write_text(value + "\n")
    return folder


def test_renders_the_key_and_writes_an_owner_only_file(tmp_path: Path) -> None:
    (tmp_path / "kong.yml").write_text(BASE)
    (tmp_path / "consumers.tmpl").write_text(TEMPLATE)
    output = tmp_path / "out" / "kong.yml"

    render_config.render_to_file(
        output, tmp_path / "kong.yml", tmp_path / "consumers.tmpl", secrets_folder(tmp_path)
    )

    document = yaml.safe_load(output.read_text())
    assert document["consumers"][0]["keyauth_credentials"][0]["key"] == KEY
    assert document["_format_version"] == "3.0"
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_a_missing_secret_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "none"
    empty.mkdir()

    with pytest.raises(render_config.RenderError, match="key_a"):
        render_config.render(TEMPLATE, lambda name: render_config.read_secret_file(empty, name))


@pytest.mark.parametrize("value", ['abc"\n  - username: admin', "short", "x" * 200, "a b" * 20])
def test_a_value_that_is_not_an_apikey_is_refused(tmp_path: Path, value: str) -> None:
    folder = secrets_folder(tmp_path, value)

    with pytest.raises(render_config.RenderError, match="not an apikey"):
        render_config.read_secret_file(folder, "key_a")


def test_base_config_must_not_define_consumers() -> None:
    with pytest.raises(render_config.RenderError, match="must not define consumers"):
        render_config.build_config(BASE + "consumers: []\n", TEMPLATE)


def test_an_unknown_placeholder_form_is_refused() -> None:
    with pytest.raises(render_config.RenderError, match="placeholder"):
        render_config.render(TEMPLATE + "# ${env:X}\n", lambda name: KEY)


def test_main_needs_the_output_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KONG_DECLARATIVE_CONFIG", raising=False)

    assert render_config.main([]) == 2
