"""Injected faults and rate limits, matched on service and operation.

Both are off by default and cost one truth test per request then.
Rate limits are token buckets on the mock clock, so a test can exhaust one
and advance the clock to refill it.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .errors import MockCloudError


def _expect(name: str, value, kinds, optional: bool = True) -> None:
    if value is None and optional:
        return
    if kinds is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, kinds) and not isinstance(value, bool)
    if not ok:
        kind = kinds.__name__ if isinstance(kinds, type) else " or ".join(k.__name__ for k in kinds)
        raise MockCloudError(f"{name} must be {kind}, not {value!r}")


@dataclass
class FaultRule:
    service: str | None = None
    operation: str | None = None
    error: str | None = None
    status: int | None = None
    throttle: bool = False
    latency: float | None = None
    count: int | None = None  # None: always
    probability: float = 1.0
    message: str | None = None

    def applies_to(self, service: str, operation: str) -> bool:
        return (self.service is None or self.service == service) and (
            self.operation is None or self.operation == operation
        )

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class RateLimit:
    service: str
    operation: str | None
    rate: float  # requests per second, refilled continuously
    burst: float
    tokens: float = field(default=0.0)
    updated: float | None = None

    def take(self, now: float) -> bool:
        if self.updated is None:
            self.tokens = self.burst
        else:
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def retry_after(self) -> float:
        return max(0.0, (1.0 - self.tokens) / self.rate) if self.rate > 0 else 60.0

    def as_dict(self) -> dict:
        return {"service": self.service, "operation": self.operation, "rate": self.rate, "burst": self.burst}


@dataclass(frozen=True)
class Verdict:
    """What the fault layer decided for one request."""

    latency: float = 0.0
    throttle: bool = False
    retry_after: float | None = None
    error: str | None = None
    status: int | None = None
    message: str | None = None


class Faults:
    """``cloud.faults``: rules for errors, throttling and latency; rate limits."""

    def __init__(self, now: Callable[[], float], services: Iterable[str] = ()) -> None:
        self._now = now
        self._services = frozenset(services)
        self._rules: list[FaultRule] = []
        self._limits: list[RateLimit] = []
        self._lock = threading.Lock()

    def _check_service(self, service: str | None) -> None:
        _expect("service", service, str)
        if service is not None and self._services and service not in self._services:
            raise MockCloudError(f"unknown service {service!r}; this mock has {sorted(self._services)}")

    def add(
        self,
        service: str | None = None,
        operation: str | None = None,
        *,
        error: str | None = None,
        status: int | None = None,
        throttle: bool = False,
        latency: float | None = None,
        count: int | None = None,
        probability: float = 1.0,
        message: str | None = None,
    ) -> FaultRule:
        self._check_service(service)
        _expect("operation", operation, str)
        _expect("error", error, str)
        _expect("message", message, str)
        _expect("throttle", throttle, bool, optional=False)
        _expect("status", status, int)
        _expect("count", count, int)
        _expect("latency", latency, (int, float))
        _expect("probability", probability, (int, float), optional=False)
        if status is not None and not 400 <= status <= 599:
            raise MockCloudError("status must be an HTTP error status (400-599)")
        if latency is not None and not 0 <= latency <= 300:
            raise MockCloudError("latency must be between 0 and 300 seconds")
        if not (error or status or throttle or latency):
            raise MockCloudError("a fault needs error, status, throttle or latency")
        if count is not None and count < 1:
            raise MockCloudError("count must be a positive number of calls, or None for always")
        if not 0.0 <= probability <= 1.0:
            raise MockCloudError("probability must be between 0 and 1")
        rule = FaultRule(service, operation, error, status, throttle, latency, count, probability, message)
        with self._lock:
            self._rules.append(rule)
        return rule

    def rate_limit(
        self, service: str, operation: str | None = None, *, rate: float, burst: float | None = None
    ) -> RateLimit:
        """Throttle ``service`` (or one operation) beyond ``rate`` requests per mock-clock second."""
        self._check_service(service)
        _expect("operation", operation, str)
        _expect("rate", rate, (int, float), optional=False)
        _expect("burst", burst, (int, float))
        if not 0 <= rate < float("inf") or (burst is not None and not 1 <= burst < float("inf")):
            raise MockCloudError("rate must be a finite number >= 0 and burst a finite number >= 1")
        limit = RateLimit(service, operation, float(rate), float(burst if burst is not None else max(1.0, rate)))
        with self._lock:
            self._limits.append(limit)
        return limit

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._limits.clear()

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    @property
    def limits(self) -> list[RateLimit]:
        return list(self._limits)

    def judge(self, service: str, operation: str) -> Verdict | None:
        """The verdict for one request, or None when nothing applies (the common case)."""
        if not self._rules and not self._limits:
            return None
        latency = 0.0
        with self._lock:
            for limit in self._limits:
                if limit.service == service and (limit.operation is None or limit.operation == operation):
                    if not limit.take(self._now()):
                        return Verdict(throttle=True, retry_after=limit.retry_after())
            for rule in list(self._rules):
                if not rule.applies_to(service, operation):
                    continue
                if rule.probability < 1.0 and random.random() >= rule.probability:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                if rule.latency:
                    latency += rule.latency
                if rule.throttle or rule.error or rule.status:
                    return Verdict(latency, rule.throttle, None, rule.error, rule.status, rule.message)
        return Verdict(latency) if latency else None
