"""The Spot order lifecycle of execution, one job per module.

``pairs`` (AssetPairs rules, cached), ``reference`` (last trade prices for risk, cached for a
second), ``validation`` (a PlaceOrderRequest against those rules), ``model`` (the recorded order),
``store`` (idempotency record and indexes in Redis, compare-and-set), ``journal`` (the
append-only event stream), ``risk_gate`` (CheckOrder / ReportOrderOutcome), ``kraken_state``
(Kraken's order view to the platform's status), ``desk`` (place and cancel), ``reconciler``
(UNKNOWN and working orders brought in line with Kraken) and ``kill_switch`` (risk's kill switch
turned into cancels).
"""
