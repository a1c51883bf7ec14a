"""World choropleths drawn offline: Natural Earth polygons, Equal Earth projection, matplotlib.

No base-map service or cartopy is needed: each country becomes one compound matplotlib path
(exterior rings counter-clockwise, holes clockwise, so holes stay holes under either fill rule)
in a ``PathCollection``. Polygons are simplified once per process (0.05 degree) so a world map
draws in well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from matplotlib.collections import PathCollection
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.path import Path as MplPath
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from rruffgeo.report.style import save_figure

#: Tolerance (degrees) of the geometry simplification used for drawing.
SIMPLIFY_DEG = 0.05
#: Fill colour of countries with no value.
NO_DATA_COLOR = "#e6e6e6"
EDGE_COLOR = "#7f7f7f"

# Equal Earth projection constants (Savric, Patterson & Jenny 2018).
_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_M = math.sqrt(3.0) / 2.0


def equal_earth(lon_deg: np.ndarray, lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal Earth projection of lon/lat degrees onto the unit sphere's plane."""
    lam = np.radians(np.asarray(lon_deg, dtype=np.float64))
    phi = np.radians(np.clip(np.asarray(lat_deg, dtype=np.float64), -90.0, 90.0))
    theta = np.arcsin(_M * np.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = 2.0 * np.sqrt(3.0) * lam * np.cos(theta) / (
        3.0 * (9.0 * _A4 * t6 * t2 + 7.0 * _A3 * t6 + 3.0 * _A2 * t2 + _A1)
    )
    y = theta * (_A1 + _A2 * t2 + t6 * (_A3 + _A4 * t2))
    return x, y


def _ring_path(coords: np.ndarray) -> MplPath:
    x, y = equal_earth(coords[:, 0], coords[:, 1])
    verts = np.column_stack([x, y])
    codes = np.full(len(verts), MplPath.LINETO, dtype=MplPath.code_type)
    codes[0] = MplPath.MOVETO
    codes[-1] = MplPath.CLOSEPOLY
    return MplPath(verts, codes)


def _geometry_path(geom: Polygon | MultiPolygon) -> MplPath | None:
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    rings: list[MplPath] = []
    for poly in polys:
        if poly.is_empty or not isinstance(poly, Polygon):
            continue
        poly = orient(poly, sign=1.0)
        rings.append(_ring_path(np.asarray(poly.exterior.coords)))
        rings.extend(_ring_path(np.asarray(r.coords)) for r in poly.interiors)
    return MplPath.make_compound_path(*rings) if rings else None


@dataclass(frozen=True)
class CountryShapes:
    """Projected drawing paths of every Natural Earth unit, with its ISO3 code and name."""

    iso3: tuple[str, ...]
    names: tuple[str, ...]
    paths: tuple[MplPath, ...]


@lru_cache(maxsize=1)
def country_shapes() -> CountryShapes:
    """Simplified, projected country paths (cached for the process)."""
    from rruffgeo.geo.countries import load_country_polygons

    df = load_country_polygons()
    original = np.asarray(df["geometry"].to_numpy())
    simple = shapely.simplify(original, SIMPLIFY_DEG, preserve_topology=False)
    # Tiny islands vanish under simplification; keep their (already small) original shape.
    simple = np.where(shapely.is_empty(simple) | ~shapely.is_valid(simple), original, simple)
    iso3, names, paths = [], [], []
    for code, name, geom in zip(df["iso3"], df["name"], simple, strict=True):
        if not isinstance(geom, Polygon | MultiPolygon):
            geom = shapely.make_valid(geom)
            parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon)]
            geom = MultiPolygon(parts) if parts else Polygon()
        path = _geometry_path(geom)
        if path is None:
            continue
        iso3.append(str(code))
        names.append(str(name))
        paths.append(path)
    return CountryShapes(tuple(iso3), tuple(names), tuple(paths))


def _globe_outline() -> np.ndarray:
    lat = np.linspace(-90, 90, 181)
    lon = np.concatenate([np.full_like(lat, 180.0), np.full_like(lat, -180.0)])
    lat = np.concatenate([lat, lat[::-1]])
    x, y = equal_earth(lon, lat)
    return np.column_stack([x, y])


def draw_choropleth(
    ax,
    values: Mapping[str, float],
    *,
    cmap: str = "viridis",
    log: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar_label: str = "",
    fig: Figure | None = None,
):
    """Fill each country of ``values`` (ISO3 -> value) on ``ax``; others light grey.

    Returns the colour normaliser used, so callers can add their own legend. When ``fig`` is
    given, a horizontal colour bar labelled ``colorbar_label`` is added under the map.
    """
    import matplotlib

    shapes = country_shapes()
    finite = {k: float(v) for k, v in values.items() if v is not None and np.isfinite(v)}
    positive = [v for v in finite.values() if v > 0]
    if log:
        lo = vmin if vmin is not None else (min(positive) if positive else 1.0)
        hi = vmax if vmax is not None else (max(positive) if positive else 10.0)
        norm: Normalize = LogNorm(vmin=max(lo, 1e-12), vmax=max(hi, lo * 10 if hi <= lo else hi))
    else:
        lo = vmin if vmin is not None else (min(finite.values()) if finite else 0.0)
        hi = vmax if vmax is not None else (max(finite.values()) if finite else 1.0)
        norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    colormap = matplotlib.colormaps[cmap]
    faces = []
    for code in shapes.iso3:
        v = finite.get(code)
        if v is None or (log and v <= 0):
            faces.append(NO_DATA_COLOR)
        else:
            faces.append(colormap(norm(v)))
    coll = PathCollection(list(shapes.paths), facecolors=faces, edgecolors=EDGE_COLOR,
                          linewidths=0.2)
    # PathCollection draws paths at offsets in data space; no transform of the paths needed.
    ax.add_collection(coll)
    outline = _globe_outline()
    ax.fill(outline[:, 0], outline[:, 1], facecolor="#f4f8fb", edgecolor="#555555",
            linewidth=0.6, zorder=0)
    ax.set_xlim(outline[:, 0].min() * 1.01, outline[:, 0].max() * 1.01)
    ax.set_ylim(outline[:, 1].min() * 1.02, outline[:, 1].max() * 1.02)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if fig is not None:
        from matplotlib.cm import ScalarMappable

        sm = ScalarMappable(norm=norm, cmap=colormap)
        cbar = fig.colorbar(sm, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02,
                            shrink=0.6, aspect=40)
        cbar.set_label(colorbar_label)
        if log:
            from matplotlib.ticker import FuncFormatter

            cbar.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    return norm


def plot_prediction_map(
    probabilities: Mapping[str, float], title: str, out_base: Path
) -> list[Path]:
    """Choropleth of the predicted probability per country for one spectrum.

    Parameters
    ----------
    probabilities
        ISO3 code -> probability (0..1); countries not listed are drawn as "no value".
    title
        Figure title (e.g. the spectrum's file name).
    out_base
        Output path without suffix; ``out_base.png`` and ``out_base.svg`` are written.

    Returns
    -------
    The written paths, PNG first.
    """
    probs = {str(k): float(v) for k, v in probabilities.items()}
    bad = [k for k, v in probs.items() if not (0.0 <= v <= 1.0 + 1e-6)]
    if bad:
        raise ValueError(f"probabilities must lie in [0, 1]; got {bad[:5]}")
    fig = Figure(figsize=(10, 5.8), layout="constrained")
    ax = fig.add_subplot()
    vmax = max(probs.values(), default=1.0) or 1.0
    draw_choropleth(ax, probs, cmap="YlOrRd", vmin=0.0, vmax=vmax, fig=fig,
                    colorbar_label="predicted probability (grey: not a class of the model)")
    top = sorted(probs.items(), key=lambda kv: kv[1], reverse=True)[:5]
    names = country_names([k for k, _ in top])
    lines = [f"{i + 1}. {name} ({k}): {v:.1%}"
             for i, ((k, v), name) in enumerate(zip(top, names, strict=True))]
    if lines:
        ax.text(0.01, 0.02, "\n".join(lines), transform=ax.transAxes, fontsize=9,
                va="bottom", ha="left",
                bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "lw": 0.5})
    ax.set_title(title, fontsize=12)
    return save_figure(fig, Path(out_base))


def country_names(codes: Sequence[str]) -> list[str]:
    """Natural Earth short names for ISO3 codes (the code itself when unknown).

    Names come from the country index, which names a code after its largest polygon: several
    polygons share a code (BRA is Brazil and "Brazilian Island"), and a name taken from whichever
    polygon was drawn last would be the small one's.
    """
    from rruffgeo.geo.countries import country_index

    index = country_index()
    return [index.info(c)[0] or c for c in codes]
