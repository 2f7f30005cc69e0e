"""Sign-in attempt limits: per client address and per account name, in the server's memory.

A refused attempt costs a dictionary look-up, never a password hash, and
every failed or refused sign-in is answered after a pause (``pause``: at most
PAUSED requests wait at once, the others are answered at once), so a script
guessing passwords slows itself down and a flood of sign-ins from one
address cannot slow the pages of people already signed in. Counted are
failed attempts in a sliding window (a success does not count). The
database's lockout (accounts.MAX_FAILURES wrong passwords in a row lock the
account for accounts.LOCKOUT) stays the rule that is on the record; these
limits stop a flood before it reaches the database, for names that are no
account too. The counts live in the process and are forgotten on a restart
(the database's lockout is not).
"""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_S = 10 * 60
PER_ADDRESS = 20  # failed sign-ins from one address in WINDOW_S
PER_ACCOUNT = 10  # failed sign-ins naming one account in WINDOW_S
MAX_KEYS = 10_000  # keys remembered at most (the oldest forgotten first)
PAUSE_S = 1.0  # a failed or refused sign-in is answered after this pause
PAUSED = 2  # requests pausing at once at most (of the server's 8 threads)
_pausing = threading.BoundedSemaphore(PAUSED)


def pause() -> None:
    """Wait PAUSE_S before answering a failed sign-in (at once when PAUSED already wait)."""
    if _pausing.acquire(blocking=False):
        try:
            time.sleep(PAUSE_S)
        finally:
            _pausing.release()


class Throttle:
    """Failed attempts per key in a sliding window; ``allowed`` says whether another may try."""

    def __init__(self, limit: int, window_s: float = WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._seen[key]
        return times

    def allowed(self, key: str) -> bool:
        """Whether ``key`` is under its limit of failures."""
        with self._lock:
            return len(self._recent(key, time.monotonic())) < self.limit

    def wait_s(self, key: str) -> int:
        """Seconds until ``key`` may try again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.limit:
                return 0
            return max(1, round(times[0] + self.window_s - now))

    def failed(self, key: str) -> None:
        """Count one failure for ``key``."""
        now = time.monotonic()
        with self._lock:
            if key not in self._seen and len(self._seen) >= MAX_KEYS:
                self._seen.pop(next(iter(self._seen)))
            self._recent(key, now)
            self._seen.setdefault(key, deque()).append(now)


class LoginLimits:
    """The two limits sign-in checks: by client address and by the account name typed."""

    def __init__(self, per_address: int = PER_ADDRESS, per_account: int = PER_ACCOUNT) -> None:
        self.address = Throttle(per_address)
        self.account = Throttle(per_account)

    @staticmethod
    def _name(username: str) -> str:
        return username.strip().lower()[:100]

    def refusal(self, address: str, username: str) -> str | None:
        """Why this attempt is refused before any password check (None: it may go on)."""
        if not self.address.allowed(address):
            minutes = -(-self.address.wait_s(address) // 60)
            return f"too many failed sign-ins from this address: try again in {minutes} min"
        name = self._name(username)
        if not self.account.allowed(name):
            minutes = -(-self.account.wait_s(name) // 60)
            return f"too many failed sign-ins for this account: try again in {minutes} min"
        return None

    def failed(self, address: str, username: str) -> None:
        """Count a failed sign-in against the address and the account name."""
        self.address.failed(address)
        self.account.failed(self._name(username))
