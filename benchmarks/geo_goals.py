"""Measure the geolocation goals on a geocoded work folder and list what still fails.

Usage: python benchmarks/geo_goals.py --workdir WORK   (after `rruffgeo geocode --workdir WORK`)

Goals (issue 3): >= 99% of natural specimens with a locality get a country; of those whose text
names a country, >= 99.5% agree with it; synthetic and unknown ones get none. Agreement is
reported twice: the assigned country against the text's, and (independently) the country the
point itself falls in, by spatial join, against the text's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from rruffgeo.config import GeoSettings
from rruffgeo.geo.clean import segments
from rruffgeo.geo.countries import country_index
from rruffgeo.geo.offline import OfflineGeocoder
from rruffgeo.workdir import GEOCODED


def measure(df: pd.DataFrame, settings: GeoSettings | None = None,
            show: int = 50) -> dict[str, float]:
    settings = settings or GeoSettings()
    reader = OfflineGeocoder()
    countries = country_index()
    flagged = df["synthetic"] | df["locality_missing"]
    natural = df[~flagged & (df["excluded_reason"] == "")]
    has_country = natural["country_iso3"] != ""
    text_iso3 = natural["locality_clean"].map(lambda s: reader.text_country(segments(s)).iso3)
    named = natural[text_iso3 != ""]
    named_text = text_iso3[text_iso3 != ""]
    agree = named["country_iso3"] == named_text
    pts = [countries.lookup(la, lo, settings.offshore_max_deg)[0] if la == la else ""
           for la, lo in zip(named["lat"], named["lon"], strict=True)]
    point_agree = pd.Series(pts, index=named.index) == named_text
    bad_flagged = df[flagged & (df["country_iso3"] != "")]
    out = {
        "specimens": len(df),
        "excluded": int((df["excluded_reason"] != "").sum()),
        "synthetic": int(df["synthetic"].sum()),
        "locality_missing": int(df["locality_missing"].sum()),
        "natural_with_locality": len(natural),
        "with_country_rate": float(has_country.mean()) if len(natural) else float("nan"),
        "text_names_country": len(named),
        "agree_with_text_rate": float(agree.mean()) if len(named) else float("nan"),
        "point_in_text_country_rate": float(point_agree.mean()) if len(named) else float("nan"),
        "flagged_with_country": len(bad_flagged),
    }
    print(f"specimens {out['specimens']}, excluded {out['excluded']}, synthetic "
          f"{out['synthetic']}, no locality {out['locality_missing']}")
    print(f"natural with a locality: {out['natural_with_locality']}; with a country: "
          f"{int(has_country.sum())} = {100 * out['with_country_rate']:.2f}% (goal >= 99%)")
    print(f"text names a country: {out['text_names_country']}; assigned country agrees: "
          f"{100 * out['agree_with_text_rate']:.2f}% (goal >= 99.5%); point falls in it: "
          f"{100 * out['point_in_text_country_rate']:.2f}%")
    print(f"synthetic/unknown given a country: {out['flagged_with_country']} (goal 0)")
    print("precision:", natural["precision"].value_counts().to_dict())
    print(f"\n-- natural, no country ({int((~has_country).sum())}):")
    for loc in natural.loc[~has_country, "locality"].head(show):
        print("  ", loc)
    print(f"\n-- point not in the text's country ({int((~point_agree).sum())}):")
    for i in named.index[~point_agree.to_numpy()][:show]:
        print(f"   {named.at[i, 'locality']!r}: text {named_text[i]}, point "
              f"({named.at[i, 'lat']:.3f}, {named.at[i, 'lon']:.3f}) in "
              f"{pts[named.index.get_loc(i)] or 'no country'}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("rruffgeo-work"))
    ap.add_argument("--show", type=int, default=50, help="failures listed per kind")
    args = ap.parse_args(argv)
    path = args.workdir / GEOCODED
    if not path.exists():
        print(f"{path} not found: run `rruffgeo geocode --workdir {args.workdir}` first",
              file=sys.stderr)
        return 1
    out = measure(pd.read_parquet(path), show=args.show)
    ok = (out["with_country_rate"] >= 0.99 and out["agree_with_text_rate"] >= 0.995
          and out["flagged_with_country"] == 0)
    print("\ngoals met" if ok else "\ngoals NOT met")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
