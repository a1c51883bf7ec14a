"""SVG drawn on the server: spectra as polylines and the world map from Natural Earth.

Everything is plain SVG text, so the page needs no plotting library, no script from a CDN and
no map tiles: it works on a computer with no internet. The country outlines are projected once
per process and sent once per page as ``<symbol>`` elements; each sample's map only says which
colour every country gets (``<use>``), so fifty maps cost little more than one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from markupsafe import Markup, escape

#: Size of a spectrum plot (px) and its margins (left, right, top, bottom).
PLOT_W, PLOT_H = 460, 220
MARGIN = (48, 10, 10, 34)
#: Size of a world map (px).
MAP_W, MAP_H = 560, 272
#: Most points drawn per curve: enough for a 460 px wide plot, min and max kept per column.
MAX_POINTS = 920
#: Light to dark (probability 0 -> 1): a colour-blind safe blue ramp.
RAMP = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))
LAND, EDGE = "#e6e6e6", "#9a9a9a"
#: Simplification of the outlines (degrees): below a pixel of the map.
SIMPLIFY_DEG = 0.2


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values between ``lo`` and ``hi``, so axes read 200, 400, ... not 187.3."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _decimate(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most ``MAX_POINTS`` points: each of ``MAX_POINTS / 2`` columns drawn as its min and
    max, as a rasteriser would, so no peak is lost."""
    if len(x) <= MAX_POINTS:
        return x, y
    starts = np.linspace(0, len(x), MAX_POINTS // 2, endpoint=False).astype(int)
    lo, hi = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
    return np.repeat(x[starts], 2), np.column_stack([lo, hi]).ravel()


def _points_text(px: np.ndarray, py: np.ndarray) -> str:
    """``x,y x,y ...`` of a polyline, one decimal (one format call, not one per point)."""
    flat = np.column_stack([px, py]).ravel().tolist()
    return ("%.1f,%.1f " * len(px) % tuple(flat)).rstrip()


def _fmt(value: float) -> str:
    """A tick label: short for everyday numbers, scientific for counts in the millions."""
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.2e}"


@dataclass(frozen=True)
class Curve:
    """One line of a spectrum plot."""

    x: np.ndarray
    y: np.ndarray
    label: str
    color: str


def _axes(xlo: float, xhi: float, ylo: float, yhi: float, sx: Callable[[float], float],
          sy: Callable[[float], float]) -> list[str]:
    """Frame, ticks and axis title of a plot (y tick labels only: intensities have no unit)."""
    left, right, top, bottom = MARGIN
    out = [f'<rect x="{left}" y="{top}" width="{PLOT_W - left - right}" '
           f'height="{PLOT_H - top - bottom}" fill="#fff" stroke="#888"/>']
    for t in nice_ticks(xlo, xhi, 6):
        px = sx(t)
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{PLOT_H - bottom}" '
                   f'y2="{PLOT_H - bottom + 4}" stroke="#888"/>'
                   f'<text x="{px:.1f}" y="{PLOT_H - bottom + 15}" text-anchor="middle">'
                   f'{_fmt(t)}</text>')
    for t in nice_ticks(ylo, yhi, 4):
        py = sy(t)
        out.append(f'<text x="{left - 4}" y="{py + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<text x="{(left + PLOT_W - right) / 2}" y="{PLOT_H - 4}" '
               'text-anchor="middle">Raman shift (cm⁻¹)</text>')
    return out


def spectrum_svg(curves: Sequence[Curve], title: str) -> Markup:
    """A small line plot of one or more curves on a shared axis, with a legend."""
    curves = [c for c in curves if len(c.x)]
    if not curves:
        return Markup("")
    xs = np.concatenate([c.x for c in curves])
    ys = np.concatenate([c.y for c in curves])
    xlo, xhi = float(xs.min()), float(xs.max())
    ylo, yhi = float(ys.min()), float(ys.max())
    xhi, yhi = (xhi if xhi > xlo else xlo + 1), (yhi if yhi > ylo else ylo + 1)
    left, right, top, bottom = MARGIN
    w, h = PLOT_W - left - right, PLOT_H - top - bottom

    def sx(v: Any) -> Any:  # a number or an array
        return left + (v - xlo) / (xhi - xlo) * w

    def sy(v: Any) -> Any:
        return top + h - (v - ylo) / (yhi - ylo) * h

    parts = _axes(xlo, xhi, ylo, yhi, sx, sy)
    for i, c in enumerate(curves):
        x, y = _decimate(np.asarray(c.x, float), np.asarray(c.y, float))
        pts = _points_text(sx(x), sy(y))
        parts.append(f'<polyline fill="none" stroke="{c.color}" stroke-width="1.2" '
                     f'points="{pts}"/>')
        parts.append(f'<text x="{left + 6}" y="{top + 14 + 13 * i}" fill="{c.color}">'
                     f'{escape(c.label)}</text>')
    return Markup(f'<svg class="plot" viewBox="0 0 {PLOT_W} {PLOT_H}" role="img" '
                  f'font-size="11" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}'
                  f'</title>{"".join(parts)}</svg>')


def ramp_color(p: float) -> str:
    """Colour of probability ``p`` (0..1) on ``RAMP``; square-root scaled so that the small
    probabilities of a wide set still show."""
    t = math.sqrt(min(max(float(p), 0.0), 1.0)) * (len(RAMP) - 1)
    i = min(int(t), len(RAMP) - 2)
    f = t - i
    rgb = [round(a + (b - a) * f) for a, b in zip(RAMP[i], RAMP[i + 1], strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _project(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal Earth lon/lat -> map pixels."""
    from rruffgeo.report.maps import equal_earth

    x, y = equal_earth(lon, lat)
    xmax, _ = equal_earth(np.array([180.0]), np.array([0.0]))
    _, ymax = equal_earth(np.array([0.0]), np.array([90.0]))
    scale = min((MAP_W - 4) / (2 * xmax[0]), (MAP_H - 4) / (2 * ymax[0]))
    return MAP_W / 2 + x * scale, MAP_H / 2 - y * scale


def _ring_d(coords: np.ndarray) -> str:
    """SVG path data of one lon/lat ring in whole pixels (repeated points dropped)."""
    x, y = _project(coords[:, 0], coords[:, 1])
    pts = np.column_stack([np.rint(x), np.rint(y)]).astype(int)
    keep = np.r_[True, (np.diff(pts, axis=0) != 0).any(axis=1)]
    pts = pts[keep]
    if len(pts) < 3:
        return ""
    return "M" + "L".join(f"{a} {b}" for a, b in pts) + "Z"


def _geometry_d(geom: object) -> str:
    """Path data of a country's polygons; holes stay holes under the even-odd rule."""
    polys = getattr(geom, "geoms", [geom])
    rings = []
    for poly in polys:
        if getattr(poly, "exterior", None) is None or poly.is_empty:
            continue
        rings.append(np.asarray(poly.exterior.coords))
        rings.extend(np.asarray(r.coords) for r in poly.interiors)
    return "".join(_ring_d(r) for r in rings)


@lru_cache(maxsize=1)
def _countries() -> tuple[tuple[str, ...], tuple[str, ...], Markup]:
    """ISO3 codes, names and the ``<symbol>`` definitions of every country, simplified to
    what a map this size shows (once a process: a few seconds)."""
    import shapely

    from rruffgeo.geo.countries import load_country_polygons

    df = load_country_polygons()
    simple = shapely.simplify(np.asarray(df["geometry"].to_numpy()), SIMPLIFY_DEG,
                              preserve_topology=True)
    codes, names, symbols = [], [], []
    for code, name, geom in zip(df["iso3"], df["name"], simple, strict=True):
        d = _geometry_d(geom)
        if not d:
            continue
        symbols.append(f'<symbol id="ne{len(codes)}" viewBox="0 0 {MAP_W} {MAP_H}">'
                       f'<path fill-rule="evenodd" d="{d}"/></symbol>')
        codes.append(str(code))
        names.append(str(name))
    lat = np.linspace(-90, 90, 91)
    gx, gy = _project(np.r_[np.full(91, 180.0), np.full(91, -180.0)], np.r_[lat, lat[::-1]])
    outline = " ".join(f"{a:.0f},{b:.0f}" for a, b in zip(gx, gy, strict=True))
    symbols.append(f'<symbol id="globe" viewBox="0 0 {MAP_W} {MAP_H}"><polygon '
                   f'points="{outline}"/></symbol>')
    return tuple(codes), tuple(names), Markup("".join(symbols))


def map_definitions() -> Markup:
    """The hidden SVG holding every country outline once; maps on the page refer to it."""
    return Markup('<svg width="0" height="0" style="position:absolute" aria-hidden="true" '
                  f'xmlns="http://www.w3.org/2000/svg"><defs>{_countries()[2]}</defs></svg>')


def world_map_svg(probabilities: Mapping[str, float], in_set: set[str],
                  points: Sequence[tuple[float, float, str]], title: str) -> Markup:
    """Countries coloured by probability (the set outlined in black) and the reference
    specimens as red points; ``points`` are (lat, lon, label)."""
    codes, names, _ = _countries()
    blank, valued, outlined = [], [], []  # the set drawn last, so its outline is on top
    for k, (code, name) in enumerate(zip(codes, names, strict=True)):
        p = probabilities.get(code)
        if p is None:  # not a country of the model: one shared style, no tooltip
            blank.append(f'<use href="#ne{k}"/>')
            continue
        stroke = 'stroke="#000" stroke-width="0.9"' if code in in_set else ""
        (outlined if code in in_set else valued).append(
            f'<use href="#ne{k}" fill="{ramp_color(p)}" {stroke}><title>'
            f'{escape(f"{name}: {p:.3f}")}</title></use>')
    parts = ['<use href="#globe" fill="#f4f8fb" stroke="#bbb"/>',
             f'<g fill="{LAND}" stroke="{EDGE}" stroke-width="0.3">{"".join(blank)}'
             f'{"".join(valued)}</g>', *outlined]
    for lat, lon, label in points:
        if not (math.isfinite(lat) and math.isfinite(lon)):
            continue
        x, y = _project(np.array([lon]), np.array([lat]))
        parts.append(f'<circle class="specimen" cx="{x[0]:.1f}" cy="{y[0]:.1f}" r="3.5" '
                     f'fill="#d62728" stroke="#fff" stroke-width="0.8"><title>{escape(label)}'
                     '</title></circle>')
    return Markup(f'<svg class="worldmap" viewBox="0 0 {MAP_W} {MAP_H}" role="img" '
                  f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
                  f'{"".join(parts)}</svg>')


def legend_svg() -> Markup:
    """The probability colour bar shown under the maps."""
    stops = "".join(f'<rect x="{i * 2}" y="0" width="2" height="10" fill="{ramp_color(i / 100)}"/>'
                    for i in range(101))
    labels = "".join(f'<text x="{(p ** 0.5) * 200:.0f}" y="22" text-anchor="middle">{p:g}</text>'
                     for p in (0, 0.05, 0.25, 0.5, 1))
    return Markup(f'<svg class="legend" viewBox="-10 0 222 26" width="222" height="26" '
                  f'font-size="9" xmlns="http://www.w3.org/2000/svg">{stops}{labels}</svg>')
