"""``rruffgeo geocode``: place every specimen of the catalog, or a plain list of localities."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from dataclasses import replace
from pathlib import Path

from rruffgeo.cli.common import add_workdir, with_options, workdir_of
from rruffgeo.config import GeoSettings
from rruffgeo.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "geocode",
        help="locality -> coordinates and country for every specimen (or a list of localities)",
        description="Clean each specimen's locality, flag synthetic samples and non-localities, "
        "geocode (offline gazetteer by default, --online for Nominatim -> Photon -> ArcGIS) and "
        "assign the country. Writes geocoded.parquet, geocoded.csv and geocoded.geojson in the "
        "work folder; with --input, geocodes a plain list (one locality per line) to --output.",
    )
    add_workdir(p)
    p.add_argument("--online", action="store_true",
                   help="use the online chain Nominatim -> Photon -> ArcGIS (cached, rate-limited)")
    p.add_argument("--cache", type=Path, default=None,
                   help="SQLite cache of online answers (default: per-user cache folder)")
    p.add_argument("--user-agent", default=None,
                   help="user agent sent to the online services (Nominatim's policy asks for "
                   "one naming your application and a contact)")
    p.add_argument("--server", action="append", default=[], metavar="NAME=URL",
                   help="use another server for one online geocoder, e.g. "
                   "nominatim=http://localhost:8080 for a self-hosted Nominatim "
                   "(repeatable; default: the public servers)")
    p.add_argument("--input", type=Path, default=None,
                   help="a UTF-8 text file, one locality per line, instead of the catalog")
    p.add_argument("--output", type=Path, default=None,
                   help="CSV written for --input (default: INPUT with .geocoded.csv)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def _read_lines(path: Path) -> list[str]:
    """One locality per line; lines end at \\n or \\r\\n only (not at \\v, \\f or U+2028,
    which ``str.splitlines`` would also cut at), so each input line gives one output row."""
    if not path.exists():
        raise UserError(f"--input {path}: no such file")
    if path.is_dir():
        raise UserError(f"--input {path}: is a folder, not a text file of localities")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        print(f"{path}: not valid UTF-8; undecodable bytes replaced", file=sys.stderr)
        text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start another
    return [line.removesuffix("\r") for line in lines]


def run(args: argparse.Namespace) -> int:
    from rruffgeo.geo.online import GeocodersUnavailable

    try:
        return _run(args)
    except GeocodersUnavailable as exc:
        print(f"rruffgeo geocode: error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # the answers cache: unwritable folder, full disk, not SQLite
        cache = args.cache or GeoSettings().cache_path
        raise UserError(f"geocoder cache {cache}: {exc}") from exc


def _run(args: argparse.Namespace) -> int:
    from rruffgeo.geo import geocode_catalog, geocode_localities
    from rruffgeo.workdir import spreadsheet_safe, write_csv_atomic

    settings = with_options(GeoSettings(), args)
    if args.user_agent:
        settings = replace(settings, user_agent=args.user_agent)
    if args.server:
        pairs = []
        for item in args.server:
            name, sep, url = item.partition("=")
            if not sep or name not in settings.online_chain:
                raise ValueError(f"--server {item!r}: expected NAME=URL with NAME one of "
                                 f"{', '.join(settings.online_chain)}")
            pairs.append((name, url))
        settings = replace(settings, online_servers=tuple(pairs))
    progress = not args.no_progress
    if args.input is not None:
        lines = _read_lines(args.input)
        out = args.output or args.input.with_suffix(".geocoded.csv")
        df = geocode_localities(lines, settings, progress=progress)
        write_csv_atomic(out, spreadsheet_safe(df))
        n_country = int((df["country_iso3"] != "").sum())
        print(f"{len(df)} localities, {n_country} with a country, "
              f"{int(df['synthetic'].sum())} synthetic, "
              f"{int(df['extraterrestrial'].sum())} extraterrestrial -> {out}")
        return 0
    wd = workdir_of(args)
    df = geocode_catalog(wd, settings, progress=progress)
    natural = df[~df["synthetic"] & ~df["extraterrestrial"] & ~df["locality_missing"]
                 & (df["excluded_reason"] == "")]
    print(f"{len(df)} specimens: {len(natural)} natural with a locality, "
          f"{int((natural['country_iso3'] != '').sum())} with a country; "
          f"{int(df['synthetic'].sum())} synthetic, "
          f"{int(df['extraterrestrial'].sum())} extraterrestrial (meteorites, lunar, Martian), "
          f"{int(df['locality_missing'].sum())} without "
          f"locality, {int((df['excluded_reason'] != '').sum())} excluded -> {wd.geocoded}")
    return 0
