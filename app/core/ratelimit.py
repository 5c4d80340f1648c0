"""Rate limits (per token, per address for failed authentication and anonymous routes): a
one-minute window per key, opened by the key's first request, counted in this worker
process. A window of its own (rather than the clock's minutes) means a burst is never let
through twice by straddling a minute's turn.

With several workers each counts its own share (see README, "Rate limits").
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable

WINDOW = 60.0


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[Hashable, tuple[float, int]] = {}  # key -> (opened at, count)
        self._swept = -math.inf
        self.refused = 0  # since the process started, for /metrics

    def retry_after(self, key: Hashable, now: float | None = None) -> int | None:
        """Count a request; return the seconds to wait when over the limit, else None."""
        now = time.monotonic() if now is None else now
        if now - self._swept >= WINDOW:
            # Forget the windows that have closed, so that the keys do not pile up.
            self._windows = {k: w for k, w in self._windows.items() if now - w[0] < WINDOW}
            self._swept = now
        opened, count = self._windows.get(key, (now, 0))
        if now - opened >= WINDOW:
            opened, count = now, 0
        count += 1
        self._windows[key] = (opened, count)
        if count <= self.per_minute:
            return None
        self.refused += 1
        return max(1, math.ceil(opened + WINDOW - now))
