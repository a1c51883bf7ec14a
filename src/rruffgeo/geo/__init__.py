"""Geolocation: locality cleaning and flags, geocoders, countries (paper 2, A.1-A.3)."""

from rruffgeo.geo.clean import clean_locality, is_missing_locality, is_synthetic
from rruffgeo.geo.pipeline import geocode_catalog, geocode_localities, geocode_specimens

__all__ = [
    "clean_locality",
    "geocode_catalog",
    "geocode_localities",
    "geocode_specimens",
    "is_missing_locality",
    "is_synthetic",
]
