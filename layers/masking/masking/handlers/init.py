"""What a webhook function's init does first and last: the cyclic garbage collector is off
while the function's modules load, then everything loaded is frozen out of its way.

- Importing this module (the handler module's first import) calls ``gc.disable()``.
- ``ready()`` (the handler module's last statement) calls ``gc.freeze()``, then
  ``gc.enable()``.

Why: an init creates about 39,000 long-lived objects the collector tracks (boto3's
service models, twilio's classes, Powertools, ``masking``: ``gc.get_freeze_count()`` after
the intercept handler's import) and next to no cyclic garbage, yet the collector runs 31
to 32 passes over them while they load (``gc.get_stats()`` around either handler's
import), about 14 ms of CPU for ``import boto3, twilio.rest`` alone, 7 % of it (21
interleaved fresh interpreters with the collector on and off: 199 and 186 ms median).
Reference counting still frees everything else while the collector is off; only
reference cycles wait (https://docs.python.org/3/library/gc.html).
``gc.freeze`` moves every object tracked so far to a permanent generation that all later
collections ignore, so no request walks them either (same page; its note on ``fork``
gives the same recipe: disable, freeze, enable). With SnapStart the snapshot is taken after
the init, with the collector on again.

A handler module that imports this module must end with ``ready()``;
tests/unit/test_webhook_init.py checks both webhook functions.
"""

import gc

gc.disable()


def ready() -> None:
    """The init is over: freeze what it loaded, switch the collector back on."""
    gc.freeze()
    gc.enable()
