"""The paper's online geocoders (A.1): Nominatim, then Photon, then ArcGIS, through geopy.

Each service sits behind geopy's RateLimiter (polite delay, retries on transient errors), and a
persistent SQLite cache sits in front of the rate limiter, so a cached query never waits and is
never sent twice; answers, misses included, are committed one by one, so an interrupted run
loses nothing. The chain uses the same partial matching as the offline geocoder: the whole
locality first, then with leading segments dropped one at a time, each step trying every
service in order.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.location import Location

from rruffgeo.config import GeoSettings
from rruffgeo.geo.aliases import find_country_in_segment
from rruffgeo.geo.clean import clean_locality, segments

log = logging.getLogger(__name__)


class _GeopyNoise(logging.Filter):
    """Keep geopy's own log lines for ``-v``: it logs every retry as a warning with a
    traceback and every HTTP error page at INFO, hundreds of lines when a service answers 500.
    `OnlineChain` logs one line per service and failure instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or log.isEnabledFor(logging.DEBUG)


logging.getLogger("geopy").addFilter(_GeopyNoise())


class GeocodeCache:
    """Persistent answers of online geocoders, keyed by (service, query); misses are kept too."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (service TEXT NOT NULL, query TEXT NOT NULL, "
            "payload TEXT, created REAL NOT NULL, PRIMARY KEY (service, query))"
        )
        self._db.commit()

    def get(self, service: str, query: str) -> tuple[bool, Location | None]:
        """(known, location): known is False when the query was never answered."""
        with self._lock:
            row = self._db.execute(
                "SELECT payload FROM answers WHERE service = ? AND query = ?", (service, query)
            ).fetchone()
        if row is None:
            return False, None
        if row[0] is None:
            return True, None
        data = json.loads(row[0])
        return True, Location(data["address"], (data["lat"], data["lon"]), data.get("raw") or {})

    def put(self, service: str, query: str, location: Location | None) -> None:
        payload = None
        if location is not None:
            raw = location.raw if isinstance(location.raw, dict) else {}
            payload = json.dumps({"address": location.address, "lat": location.latitude,
                                  "lon": location.longitude, "raw": raw}, default=str)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers (service, query, payload, created) "
                "VALUES (?, ?, ?, ?)", (service, query, payload, time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class CachedGeocoder:
    """``geocode(query)`` of one service: the cache first, then the rate-limited service.

    Errors that survive the retries propagate and are not cached, so the query is tried again
    on the next run.
    """

    def __init__(self, name: str, geocode: Callable[[str], Location | None],
                 cache: GeocodeCache | None) -> None:
        self.name = name
        self._geocode = geocode
        self.cache = cache
        self.sent = 0

    def geocode(self, query: str) -> Location | None:
        if self.cache is not None:
            known, loc = self.cache.get(self.name, query)
            if known:
                return loc
        self.sent += 1
        loc = self._geocode(query)
        if self.cache is not None:
            self.cache.put(self.name, query, loc)
        return loc


def _service(name: str, settings: GeoSettings, adapter_factory: Any = None) -> Any:
    from geopy.geocoders import ArcGIS, Nominatim, Photon

    kwargs: dict[str, Any] = {"user_agent": settings.user_agent, "timeout": 10}
    if adapter_factory is not None:
        kwargs["adapter_factory"] = adapter_factory
    server = dict(settings.online_servers).get(name)
    if server:
        scheme, _, domain = server.partition("://")
        if not domain:
            raise ValueError(f"online server for {name} must look like http://host:port, "
                             f"not {server!r}")
        kwargs.update(scheme=scheme, domain=domain.rstrip("/"))
    if name == "nominatim":
        return Nominatim(**kwargs)
    if name == "photon":
        return Photon(**kwargs)
    if name == "arcgis":
        return ArcGIS(**kwargs)
    raise ValueError(f"unknown online geocoder {name!r}: choose from nominatim, photon, arcgis")


class GeocodersUnavailable(RuntimeError):
    """Every online service failed repeatedly: the network or the services are down."""


class OnlineChain:
    """Nominatim -> Photon -> ArcGIS with partial matching; ``geocode(query) -> Location|None``.

    ``Location.raw`` is the service's own answer plus ``precision`` and ``geocoder``. A service
    that fails ``max_failures`` times in a row (after its retries) is dropped for the run; when
    all are dropped, `GeocodersUnavailable` stops the run (answers so far stay cached).
    """

    name = "online"

    def __init__(self, services: list[CachedGeocoder], max_failures: int = 3) -> None:
        self.services = services
        self.max_failures = max_failures
        self._failures = dict.fromkeys((s.name for s in services), 0)

    def geocode(self, query: str) -> Location | None:
        segs = segments(clean_locality(query))
        for start in range(len(segs)):
            sub = ", ".join(segs[start:])
            for svc in self.services:
                if self._failures[svc.name] >= self.max_failures:
                    continue
                try:
                    loc = svc.geocode(sub)
                    self._failures[svc.name] = 0
                except GeopyError as exc:
                    self._failures[svc.name] += 1
                    log.warning("%s failed on %r: %s", svc.name, sub, exc)
                    if all(n >= self.max_failures for n in self._failures.values()):
                        raise GeocodersUnavailable(
                            f"online geocoders {', '.join(self._failures)} failed "
                            f"{self.max_failures} times in a row (last: {exc}); answers so far "
                            "are cached: run again later, or without --online") from exc
                    continue
                if loc is not None:
                    raw = dict(loc.raw) if isinstance(loc.raw, dict) else {}
                    raw["precision"] = _precision(segs, start)
                    raw["geocoder"] = svc.name
                    return Location(loc.address, (loc.latitude, loc.longitude), raw)
        return None


def _precision(segs: list[str], start: int) -> str:
    """Level reached after dropping ``start`` leading segments."""
    rest = segs[start:]
    if len(rest) == 1 and find_country_in_segment(rest[0])[0]:
        from rruffgeo.geo.gazetteer import load_gazetteer

        return "state" if load_gazetteer().lookup(rest[0], ("state",)) else "country"
    if start == 0 or len(rest) > 2:
        return "place"
    from rruffgeo.geo.gazetteer import load_gazetteer

    gaz = load_gazetteer()
    if gaz.lookup(rest[0], ("state",)):
        return "state"
    if gaz.lookup(rest[0], ("district",)):
        return "district"
    return "place"


def make_online_chain(settings: GeoSettings, adapter_factory: Any = None,
                      cache: GeocodeCache | None = None) -> OnlineChain:
    """The configured chain, each service rate-limited and cached (settings.cache_path)."""
    cache = cache if cache is not None else GeocodeCache(settings.cache_path)
    services = []
    for name in settings.online_chain:
        svc = _service(name, settings, adapter_factory)
        limited = RateLimiter(svc.geocode, min_delay_seconds=settings.min_delay_s,
                              max_retries=settings.max_retries,
                              error_wait_seconds=settings.error_wait_s,
                              swallow_exceptions=False)
        services.append(CachedGeocoder(name, limited, cache))
    return OnlineChain(services)


__all__ = ["CachedGeocoder", "GeocodeCache", "GeocodersUnavailable", "OnlineChain",
           "make_online_chain"]
