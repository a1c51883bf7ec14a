"""The online chain (Nominatim -> Photon -> ArcGIS) against a fake geopy adapter: no network.

The fake adapter answers in each service's real JSON response format and records every request,
so the tests check the chain order, partial matching, the user agent, retries and the cache.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from geopy.adapters import BaseSyncAdapter
from geopy.exc import GeocoderUnavailable

from rruffgeo.config import GeoSettings
from rruffgeo.geo import geocode_localities
from rruffgeo.geo.online import GeocodeCache, make_online_chain

PLACES = {  # query -> (lat, lon, display name)
    "tsumeb, namibia": (-19.2333, 17.7167, "Tsumeb, Oshikoto Region, Namibia"),
    "kolwezi, katanga, congo": (-10.7148, 25.4667, "Kolwezi, Lualaba, DR Congo"),
    "arizona, usa": (34.3953, -111.7633, "Arizona, United States"),
    "bisbee, cochise county, arizona, usa": (31.448, -109.928, "Bisbee, AZ, USA"),
}


def nominatim_json(hit):
    if hit is None:
        return []
    lat, lon, name = hit
    return [{"place_id": 1, "licence": "ODbL", "osm_type": "relation", "osm_id": 1,
             "lat": str(lat), "lon": str(lon), "display_name": name, "class": "place",
             "type": "town", "importance": 0.5,
             "boundingbox": [str(lat - 0.1), str(lat + 0.1), str(lon - 0.1), str(lon + 0.1)]}]


def photon_json(hit):
    feats = []
    if hit is not None:
        lat, lon, name = hit
        feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                  "properties": {"osm_id": 1, "osm_type": "N", "name": name.split(",")[0],
                                 "country": name.split(", ")[-1], "type": "city"}}]
    return {"type": "FeatureCollection", "features": feats}


def arcgis_json(hit):
    cands = []
    if hit is not None:
        lat, lon, name = hit
        cands = [{"address": name, "location": {"x": lon, "y": lat}, "score": 100,
                  "attributes": {}, "extent": {"xmin": lon - 0.1, "ymin": lat - 0.1,
                                               "xmax": lon + 0.1, "ymax": lat + 0.1}}]
    return {"spatialReference": {"wkid": 4326, "latestWkid": 4326}, "candidates": cands}


class FakeAdapter(BaseSyncAdapter):
    """Answers like the real services; which services know which places is configurable."""

    def __init__(self, *, proxies, ssl_context, knows, log, failing=()):
        super().__init__(proxies=proxies, ssl_context=ssl_context)
        self.knows, self.log, self.failing = knows, log, failing

    def get_text(self, url, *, timeout, headers):  # pragma: no cover - not used by these
        raise NotImplementedError

    def get_json(self, url, *, timeout, headers):
        parsed = urlparse(url)
        params = parse_qs(parsed.query)
        host = parsed.netloc
        service = ("nominatim" if "nominatim" in host else "photon" if "photon" in host
                   else "arcgis")
        query = (params.get("q") or params.get("singleLine"))[0]
        self.log.append((service, query, headers.get("User-Agent", "")))
        if service in self.failing:
            raise GeocoderUnavailable(f"{service} is down")
        hit = PLACES.get(query.lower()) if query.lower() in self.knows.get(service, ()) else None
        return {"nominatim": nominatim_json, "photon": photon_json,
                "arcgis": arcgis_json}[service](hit)


def chain(tmp_path, knows, log, failing=(), retries=0):
    settings = GeoSettings(online=True, min_delay_s=0.0, max_retries=retries, error_wait_s=0.0,
                           cache_path=tmp_path / "cache.sqlite", user_agent="rruffgeo-test/1")

    def factory(proxies, ssl_context):
        return FakeAdapter(proxies=proxies, ssl_context=ssl_context, knows=knows, log=log,
                           failing=failing)

    return make_online_chain(settings, adapter_factory=factory), settings


def test_nominatim_first_with_user_agent(tmp_path):
    log = []
    c, _ = chain(tmp_path, {"nominatim": set(PLACES), "photon": set(PLACES)}, log)
    loc = c.geocode("Tsumeb, Namibia")
    assert loc.raw["geocoder"] == "nominatim" and loc.raw["precision"] == "place"
    assert loc.latitude == pytest.approx(-19.2333)
    assert log == [("nominatim", "Tsumeb, Namibia", "rruffgeo-test/1")]


def test_falls_through_to_photon_then_arcgis(tmp_path):
    log = []
    c, _ = chain(tmp_path, {"photon": {"tsumeb, namibia"}, "arcgis": {"kolwezi, katanga, congo"}},
                 log)
    assert c.geocode("Tsumeb, Namibia").raw["geocoder"] == "photon"
    loc = c.geocode("Kolwezi, Katanga, Congo")
    assert loc.raw["geocoder"] == "arcgis"
    assert loc.longitude == pytest.approx(25.4667)
    assert [s for s, _, _ in log] == ["nominatim", "photon", "nominatim", "photon", "arcgis"]


def test_partial_matching_drops_leading_segments(tmp_path):
    log = []
    c, _ = chain(tmp_path, {"nominatim": {"arizona, usa"}}, log)
    loc = c.geocode("Tiger mine, Mammoth, Arizona, USA")
    assert loc.raw["precision"] == "state"
    queries = [q for s, q, _ in log if s == "nominatim"]
    assert queries == ["Tiger mine, Mammoth, Arizona, USA", "Mammoth, Arizona, USA",
                       "Arizona, USA"]


def test_cache_means_no_query_is_sent_twice(tmp_path):
    log = []
    knows = {"nominatim": {"tsumeb, namibia"}}
    c, _ = chain(tmp_path, knows, log)
    c.geocode("Tsumeb, Namibia")
    c.geocode("Nowhere at all")  # misses are cached too
    sent = len(log)
    c2, settings = chain(tmp_path, knows, log)  # a new run, same cache file
    assert c2.geocode("Tsumeb, Namibia").raw["geocoder"] == "nominatim"
    assert c2.geocode("Nowhere at all") is None
    assert len(log) == sent
    assert len(GeocodeCache(settings.cache_path)) >= 4


def test_unavailable_service_is_retried_skipped_and_not_cached(tmp_path):
    log = []
    c, settings = chain(tmp_path, {"photon": {"tsumeb, namibia"}}, log, failing=("nominatim",),
                        retries=1)
    loc = c.geocode("Tsumeb, Namibia")
    assert loc.raw["geocoder"] == "photon"
    assert [s for s, _, _ in log].count("nominatim") == 2  # first try + one retry
    known, _ = GeocodeCache(settings.cache_path).get("nominatim", "Tsumeb, Namibia")
    assert not known


def test_online_answers_get_countries_like_offline_ones(tmp_path):
    log = []
    c, settings = chain(tmp_path, {"nominatim": set(PLACES)}, log)
    df = geocode_localities(["Bisbee, Cochise County, Arizona, USA", "Synthetic", "Unknown"],
                            settings, geocoder=c)
    assert list(df["country_iso3"]) == ["USA", "", ""]
    assert list(df["source"]) == ["nominatim", "", ""]
    assert all(q.startswith("Bisbee") for _, q, _ in log)  # flagged rows are never sent


def test_all_services_down_stops_with_a_clear_error(tmp_path):
    from rruffgeo.geo.online import GeocodersUnavailable

    log = []
    c, settings = chain(tmp_path, {"nominatim": {"tsumeb, namibia"}}, log,
                        failing=("nominatim", "photon", "arcgis"))
    with pytest.raises(GeocodersUnavailable, match="run again later"):
        geocode_localities(["Tsumeb, Namibia", "Kolwezi, Katanga, Congo"], settings, geocoder=c)
    assert len(log) == 9  # three failures a service, then the run stops


def test_cli_online_against_a_local_nominatim(tmp_path):
    """`rruffgeo geocode --online --server nominatim=http://127.0.0.1:PORT` end to end."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import pandas as pd

    from rruffgeo.cli import main

    seen = []

    class Nominatim(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            params = parse_qs(urlparse(self.path).query)
            query = params["q"][0]
            seen.append((query, self.headers.get("User-Agent")))
            body = json.dumps(nominatim_json(PLACES.get(query.lower()))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Nominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        src = tmp_path / "in.txt"
        src.write_text("Tsumeb, Namibia\nSynthetic\n", encoding="utf-8")
        out = tmp_path / "out.csv"
        port = server.server_address[1]
        rc = main(["geocode", "--online", "--input", str(src), "--output", str(out),
                   "--server", f"nominatim=http://127.0.0.1:{port}", "--no-progress",
                   "--cache", str(tmp_path / "c.sqlite"), "--user-agent", "rruffgeo-test/2"])
    finally:
        server.shutdown()
    assert rc == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df["country_iso3"]) == ["NAM", ""]
    assert df.loc[0, "source"] == "nominatim"
    assert seen == [("Tsumeb, Namibia", "rruffgeo-test/2")]
