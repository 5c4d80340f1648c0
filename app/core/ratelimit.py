"""Rate limits (per token, per address for failed authentication and anonymous routes): a
fixed one-minute window, counted in this worker process.

With several workers each counts its own share (see README, "Rate limits").
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = -1
        self._counts: dict[Hashable, int] = {}
        self.refused = 0  # since the process started, for /metrics

    def retry_after(self, key: Hashable, now: float | None = None) -> int | None:
        """Count a request; return the seconds to wait when over the limit, else None."""
        now = time.monotonic() if now is None else now
        window = int(now // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count <= self.per_minute:
            return None
        self.refused += 1
        return max(1, math.ceil((window + 1) * 60 - now))
