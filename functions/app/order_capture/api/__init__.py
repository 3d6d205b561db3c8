"""The HTTP API (ApiFunction): captures in three dialects over one core.

* ``native``: the Aplazame captures API, amounts in minor units (``/orders/...``).
* ``medusa``: Medusa's admin "Capture an Order's Payments" (``/admin/orders/{id}/capture``).
* ``omnitron``: Omnitron's ``POST /api/v1/capture-order/`` with decimal amounts.

Each dialect module maps our models to its own, in one place, and renders its own errors.
"""
