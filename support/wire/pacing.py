"""Process-wide pacing of the suite's calls under the front's rate limits (contract Part B).

Why: behind the production nginx front every client address gets two buckets: ``/api/v1/auth/*`` at
5 requests/s (burst 10) and everything else at 10 requests/s (burst 20); beyond them the front answers a
503 HTML page. A suite that meets those limits spends its time in back-off and retries, and a retried
503 must never be evidence of anything (the client marks it ``retried`` before anyone sees it). So the
client waits for its turn *before* sending: one :class:`TokenBucket` for auth calls (``AUTH_PACER``, at
``PERMISO_AUTH_RATE_PER_SECOND``) and one for every other call (``API_PACER``, at
``PERMISO_API_RATE_PER_SECOND``; off against the embedded server, which has no API limiter).

A bucket of rate *r* and capacity *b* lets *b* calls go at once and then one every 1/r s (the generic
cell rate algorithm, GCRA, as nginx's ``limit_req`` counts). Calls that conform to (r, b) also conform to
the front's (r', b') when r ≤ r' and b ≤ b': the suite's defaults (auth 4/s, capacity 4; API 8/s,
capacity 8) leave the rest of the front's burst for clock jitter. Under behavex each worker gets 1/N of
both (support/lifecycle/parallel.py). Waiting is never part of a call's measured time (``elapsed_ms``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def burst_for(rate: float) -> float:
    """The capacity the suite gives itself at ``rate``: one second's worth, at least one call."""
    return max(1.0, rate)


class TokenBucket:
    """Thread-safe GCRA pacer: :meth:`wait` blocks until the next call may go; rate and capacity are
    given per call (settings may change between runs of one process, behavex workers divide them)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock = threading.Lock()
        self._tat = 0.0  # theoretical arrival time of the next conforming call
        self._interval = 0.0
        self._burst = 1.0
        self._clock = clock
        self._sleep = sleep

    def wait(self, rate: float, burst: float = 1.0) -> float:
        """Block until the next slot at ``rate`` calls/s with capacity ``burst``; returns the seconds waited.
        A rate of 0 (or less) means unpaced."""
        if rate <= 0:
            return 0.0
        interval, tolerance = 1.0 / rate, (max(1.0, burst) - 1.0) / rate
        with self._lock:
            self._interval, self._burst = interval, max(1.0, burst)
            now = self._clock()
            slot = max(now, self._tat - tolerance)
            self._tat = max(self._tat, slot) + interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)

    def drain(self) -> None:
        """Empty the bucket (at the last rate used): the next call waits a full interval. For after a
        deliberate flood, which emptied the target's bucket: the suite then refills slower than it does."""
        with self._lock:
            if self._interval > 0:
                self._tat = self._clock() + self._burst * self._interval

    def reset(self) -> None:
        with self._lock:
            self._tat = 0.0


#: The name the suite has always used for the sign-in pacer (a bucket of capacity 1 by default).
AuthPacer = TokenBucket

#: every ``/auth/*`` call of the process (sign-ins, refresh, introspect, revoke, logout)
AUTH_PACER = TokenBucket()
#: every other call of the process (only when ``PERMISO_API_RATE_PER_SECOND`` > 0)
API_PACER = TokenBucket()
