"""Injected faults and rate limits, matched on service and operation.

Both are off by default and cost one truth test per request then.
Rate limits are token buckets on the mock clock, so a test can exhaust one
and advance the clock to refill it.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .errors import MockCloudError
from .request import Reply


def _expect(name: str, value: object, kinds: type | tuple[type, ...], optional: bool = True) -> None:
    if value is None and optional:
        return
    ok = isinstance(value, bool) if kinds is bool else (isinstance(value, kinds) and not isinstance(value, bool))
    if not ok:
        kind = kinds.__name__ if isinstance(kinds, type) else " or ".join(k.__name__ for k in kinds)
        raise MockCloudError(f"{name} must be {kind}, not {value!r}")


# What a client sees of the connection. All but the last two stop the request before the service
# acts on it; "truncated" and "reset_after_commit" let it act, then lose (part of) the reply.
NETWORK_FAULTS = ("reset", "empty", "truncated", "malformed", "stall", "reset_after_commit")
COMMITTING_FAULTS = frozenset({"truncated", "reset_after_commit"})
STALL_LIMIT = 120.0  # seconds a stalled connection is held when the client sets no timeout of its own


@dataclass(frozen=True)
class Delay:
    """A latency: fixed seconds, or a distribution drawn from the mock's random generator."""

    fixed: float = 0.0
    uniform: tuple[float, float] | None = None
    lognormal: tuple[float, float] | None = None  # (median seconds, sigma)

    @classmethod
    def parse(cls, spec: object) -> Delay:
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            return cls(fixed=_seconds("latency", spec))
        if isinstance(spec, dict) and len(spec) == 1:
            ((kind, value),) = spec.items()
            if kind == "uniform" and isinstance(value, (list, tuple)) and len(value) == 2:
                low, high = (_seconds("latency uniform bound", v) for v in value)
                if low > high:
                    raise MockCloudError("latency uniform bounds must be [low, high] with low <= high")
                return cls(uniform=(low, high))
            if kind == "lognormal" and isinstance(value, dict) and set(value) == {"median", "sigma"}:
                median = _seconds("latency lognormal median", value["median"])
                sigma = value["sigma"]
                if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 <= sigma <= 5:
                    raise MockCloudError("latency lognormal sigma must be a number between 0 and 5")
                if median <= 0:
                    raise MockCloudError("latency lognormal median must be more than 0 seconds")
                return cls(lognormal=(median, float(sigma)))
        raise MockCloudError(
            'latency must be seconds, {"uniform": [low, high]} or {"lognormal": {"median": m, "sigma": s}}, '
            f"not {spec!r}"
        )

    def draw(self, rng: random.Random) -> float:
        if self.uniform is not None:
            return rng.uniform(*self.uniform)
        if self.lognormal is not None:
            median, sigma = self.lognormal
            return min(300.0, rng.lognormvariate(math.log(median), sigma))
        return self.fixed

    def as_json(self) -> object:
        if self.uniform is not None:
            return {"uniform": list(self.uniform)}
        if self.lognormal is not None:
            return {"lognormal": {"median": self.lognormal[0], "sigma": self.lognormal[1]}}
        return self.fixed


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 300:
        raise MockCloudError(f"{name} must be a number of seconds between 0 and 300, not {value!r}")
    return float(value)


class RateLimitSpec(TypedDict):
    """A rate limit as ``Faults.rate_limit`` takes it."""

    service: str
    operation: str | None
    rate: float
    burst: float


class RateLimitState(RateLimitSpec):
    """A rate limit with its bucket's level, as ``Faults.export`` gives it."""

    tokens: float
    updated: float | None


class FaultsExport(TypedDict):
    """What ``Faults.export`` gives and ``Faults.load`` takes back."""

    rules: list[dict[str, Any]]
    rate_limits: list[RateLimitState]


@dataclass
class FaultRule:
    service: str | None = None
    operation: str | None = None
    error: str | None = None
    status: int | None = None
    throttle: bool = False
    latency: Delay | None = None
    count: int | None = None  # None: always
    probability: float = 1.0
    message: str | None = None
    network: str | None = None

    def applies_to(self, service: str, operation: str) -> bool:
        return (self.service is None or self.service == service) and (
            self.operation is None or self.operation == operation
        )

    def as_dict(self) -> dict[str, Any]:
        """The rule as ``add`` takes it (its keyword arguments), the latency as JSON."""
        fields = dict(self.__dict__)
        fields["latency"] = None if self.latency is None else self.latency.as_json()
        return fields


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

    def as_dict(self) -> RateLimitSpec:
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
    network: str | None = None


class Faults:
    """``cloud.faults``: rules for errors, throttling and latency; rate limits."""

    def __init__(
        self, now: Callable[[], float], services: Iterable[str] = (), rng: random.Random | None = None
    ) -> None:
        self._now = now
        self._rng = rng or random.Random()
        self._services = frozenset(services)
        self._rules: list[FaultRule] = []
        self._limits: list[RateLimit] = []
        self._lock = threading.Lock()
        self.changes = 0  # grows with every change of rules or buckets: a sharing mock writes them back then

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
        latency: float | dict[str, Any] | None = None,
        count: int | None = None,
        probability: float = 1.0,
        message: str | None = None,
        network: str | None = None,
    ) -> FaultRule:
        """Inject a fault into matching requests (all of ``service``'s, or one ``operation``'s).

        ``error``/``status`` answer an error; ``throttle`` the service's own throttling error;
        ``latency`` delays the reply (seconds, ``{"uniform": [lo, hi]}`` or
        ``{"lognormal": {"median": m, "sigma": s}}``); ``network`` fails the connection (one of
        ``NETWORK_FAULTS``). ``count`` limits it to that many requests, ``probability`` to a share.
        """
        self._check_service(service)
        _expect("operation", operation, str)
        _expect("error", error, str)
        _expect("message", message, str)
        _expect("throttle", throttle, bool, optional=False)
        _expect("status", status, int)
        _expect("count", count, int)
        _expect("network", network, str)
        _expect("probability", probability, (int, float), optional=False)
        if status is not None and not 400 <= status <= 599:
            raise MockCloudError("status must be an HTTP error status (400-599)")
        delay = None if latency is None else Delay.parse(latency)
        if network is not None and network not in NETWORK_FAULTS:
            raise MockCloudError(f"network must be one of {list(NETWORK_FAULTS)}, not {network!r}")
        if network is not None and (error or status or throttle):
            raise MockCloudError("a network fault loses the reply: it does not go with error, status or throttle")
        if not (error or status or throttle or delay or network):
            raise MockCloudError("a fault needs error, status, throttle, latency or network")
        if count is not None and count < 1:
            raise MockCloudError("count must be a positive number of calls, or None for always")
        if not 0.0 <= probability <= 1.0:
            raise MockCloudError("probability must be between 0 and 1")
        rule = FaultRule(service, operation, error, status, throttle, delay, count, probability, message, network)
        with self._lock:
            self._rules.append(rule)
            self.changes += 1
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
            self.changes += 1
        return limit

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._limits.clear()
            self.changes += 1

    def replace(self, data: Mapping[str, Any]) -> None:
        """Hold exactly what ``export`` gave (another mock's rules and buckets), nothing else."""
        self.clear()
        self.load(data)

    def use_generator(self, rng: random.Random) -> None:
        """Draw probabilities and latencies from ``rng`` from now on (the mock's entropy was seeded anew)."""
        self._rng = rng

    def export(self) -> FaultsExport:
        """The rules (with what is left of their counts) and the rate limits (with their buckets' levels)."""
        with self._lock:
            limits: list[RateLimitState] = [
                {**limit.as_dict(), "tokens": limit.tokens, "updated": limit.updated} for limit in self._limits
            ]
            return {"rules": [rule.as_dict() for rule in self._rules], "rate_limits": limits}

    def load(self, data: Mapping[str, Any]) -> None:
        """Put back what ``export`` gave, each rule checked as ``add`` checks it."""
        for rule in data.get("rules", ()):
            self.add(**rule)
        for given in data.get("rate_limits", ()):
            spec = dict(given)
            tokens, updated = spec.pop("tokens", None), spec.pop("updated", None)
            limit = self.rate_limit(spec.pop("service"), spec.pop("operation", None), **spec)
            if tokens is not None:
                limit.tokens, limit.updated = float(tokens), updated
                self.changes += 1

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    @property
    def limits(self) -> list[RateLimit]:
        return list(self._limits)

    @property
    def delays(self) -> bool:
        """Whether a rule may hold a reply back (a latency): a server answers such requests on a thread of their own."""
        return any(rule.latency is not None for rule in self._rules)

    def judge(self, service: str, operation: str) -> Verdict | None:
        """The verdict for one request, or None when nothing applies (the common case)."""
        if not self._rules and not self._limits:
            return None
        latency = 0.0
        with self._lock:
            for limit in self._limits:
                if limit.service == service and (limit.operation is None or limit.operation == operation):
                    self.changes += 1  # the bucket's level moved
                    if not limit.take(self._now()):
                        return Verdict(throttle=True, retry_after=limit.retry_after())
            for rule in list(self._rules):
                if not rule.applies_to(service, operation):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                if rule.count is not None:
                    self.changes += 1
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                if rule.latency is not None:
                    latency += rule.latency.draw(self._rng)
                if rule.throttle or rule.error or rule.status or rule.network:
                    return Verdict(latency, rule.throttle, None, rule.error, rule.status, rule.message, rule.network)
        return Verdict(latency) if latency else None


def fault_bytes(reply: Reply) -> bytes:
    """What reaches the client before a faulted connection ends, for the faults that send anything."""
    if reply.fault == "truncated":
        whole = reply.http_bytes(close=False)
        return whole[: len(whole) - max(1, len(reply.body) // 2)]
    if reply.fault == "malformed":
        return b"\x8f\x00\x17mockcloud: not HTTP at all\r\n\r\n"
    return b""
