from shapely.geometry import Point

from rruffgeo.geo.countries import load_country_polygons


def test_natural_earth_polygons_load_offline_with_fixed_codes():
    df = load_country_polygons()
    assert len(df) > 240
    by_iso = df.set_index("iso3")
    # ISO_A3 is -99 for France and Norway in Natural Earth; the EH codes fill it.
    assert {"FRA", "NOR", "USA", "NAM", "COD"} <= set(by_iso.index)
    assert by_iso.loc["NAM", "iso2"] == "NA"
    assert by_iso.loc["ITA", "geometry"].contains(Point(12.5, 41.9))  # Rome
