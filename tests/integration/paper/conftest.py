"""A paper exchange process per test module; its price path moves only when a test sets it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.paper_exchange import PaperExchange


@pytest.fixture(scope="module")
def paper() -> Iterator[PaperExchange]:
    with PaperExchange() as exchange:
        yield exchange


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "paper" in request.fixturenames:
        paper = request.getfixturevalue("paper")
        paper.clear_faults()
        paper.embed_clear_faults()
