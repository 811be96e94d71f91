"""The timeline ring: bounded, filtered by stamp, kind and pair, shown as the admin API shows it."""

from __future__ import annotations

from services.paper.timeline import EventKind, Timeline, TimelineEvent


def test_keeps_only_the_newest_events() -> None:
    timeline = Timeline(maxlen=3)

    for index in range(5):
        timeline.add_order_received("BTC/USD", str(index), t_ns=index)

    assert [e.cl_ord_id for e in timeline.events()] == ["2", "3", "4"]


def test_filters_by_stamp_kind_and_pair() -> None:
    timeline = Timeline()
    timeline.add_order_received("BTC/USD", None, t_ns=10)
    timeline.add_order_received("ETH/USD", None, t_ns=20)
    timeline.add_order_received("BTC/USD", "late", t_ns=30)
    timeline.ticker_sent("BTC/USD")

    after = list(timeline.events(after_ns=10, kind=EventKind.ADD_ORDER_RECEIVED, pair="BTC/USD"))

    assert [e.cl_ord_id for e in after] == ["late"]


def test_ticker_sent_is_stamped_on_the_clock_after_earlier_events() -> None:
    timeline = Timeline()
    timeline.add_order_received("BTC/USD", None, t_ns=0)

    timeline.ticker_sent("BTC/USD")

    sent = list(timeline.events(kind=EventKind.WS_TICKER_SENT))
    assert len(sent) == 1
    assert sent[0].t_ns > 0


def test_json_has_cl_ord_id_only_when_the_order_had_one() -> None:
    with_id = TimelineEvent(EventKind.ADD_ORDER_RECEIVED, "BTC/USD", 5, "abc")
    without = TimelineEvent(EventKind.WS_TICKER_SENT, "BTC/USD", 6)

    assert with_id.as_json() == {
        "kind": "add_order_received",
        "pair": "BTC/USD",
        "t_ns": 5,
        "cl_ord_id": "abc",
    }
    assert without.as_json() == {"kind": "ws_ticker_sent", "pair": "BTC/USD", "t_ns": 6}
