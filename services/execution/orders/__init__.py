"""The Spot order lifecycle of execution, one job per module.

``pairs`` (AssetPairs rules, cached), ``validation`` (a PlaceOrderRequest against those rules),
``model`` (the recorded order), ``store`` (idempotency record and indexes in Redis), ``journal``
(the append-only event stream), ``risk_gate`` (CheckOrder / ReportOrderOutcome), ``kraken_state``
(Kraken's order view to the platform's status), ``desk`` (place and cancel) and ``reconciler``
(UNKNOWN and working orders brought in line with Kraken).
"""
