"""Rate limits (SPEC §10, §12): console logins, anonymous chat sessions, failed verification
attempts, counted per client (and per user name for logins) with the `limits` library.

Moving windows, so a burst at a window's edge does not double the allowance. Counters live in
Redis when `PARLEY_REDIS_URL` is set (shared by every API replica), otherwise in the process.
Each rule is a setting (`PARLEY_RATE_LIMIT_*`, e.g. "10/minute;30/hour"), so a load test or a
trusted portal backend can raise it.
"""

from __future__ import annotations

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from parley.core.errors import TooManyRequests


class RateLimits:
    def __init__(self, redis_url: str | None) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(redis_url or "memory://"))
        # Counters in this process's memory: a check is a few dictionary look-ups, no I/O, so
        # an async caller may make it on the event loop instead of handing it to a thread.
        self.in_process = not redis_url

    @staticmethod
    def rules(rule: str) -> list[RateLimitItem]:
        return list(parse_many(rule))

    def allowed(self, rule: str, *keys: str) -> bool:
        """Whether one more request under `rule` is allowed for `keys` (nothing is counted)."""
        return all(self._limiter.test(item, *keys) for item in self.rules(rule))

    def hit(self, rule: str, *keys: str, cost: int = 1) -> bool:
        """Count a request; False when it went over any window of `rule`."""
        ok = True
        for item in self.rules(rule):
            ok = self._limiter.hit(item, *keys, cost=cost) and ok
        return ok

    def require(self, rule: str, *keys: str, message: str) -> None:
        """Count a request and refuse it (429) when it is over the limit."""
        if not self.hit(rule, *keys):
            raise TooManyRequests("rate_limited", message)
