"""The nonce book: strictly increasing per key, with Kraken's optional window."""

from __future__ import annotations

from services.paper.nonces import NonceBook


def test_without_a_window_only_higher_nonces_pass() -> None:
    book = NonceBook(window=0)

    assert book.accept("k", 100)
    assert not book.accept("k", 100)
    assert not book.accept("k", 99)
    assert book.accept("k", 101)


def test_each_key_has_its_own_nonce() -> None:
    book = NonceBook(window=0)

    assert book.accept("a", 100)
    assert book.accept("b", 50)


def test_window_accepts_a_late_unused_nonce_once() -> None:
    book = NonceBook(window=1000)
    assert book.accept("k", 5000)

    assert book.accept("k", 4500)
    assert not book.accept("k", 4500)
    assert not book.accept("k", 5000)
    assert not book.accept("k", 4000)


def test_window_slides_with_the_highest_nonce() -> None:
    book = NonceBook(window=1000)
    book.accept("k", 5000)
    book.accept("k", 7000)

    assert not book.accept("k", 5500)
    assert book.accept("k", 6500)


def test_nonce_must_fit_an_unsigned_64_bit_integer() -> None:
    book = NonceBook(window=0)

    assert not book.accept("k", 2**64)
    assert not book.accept("k", -1)
