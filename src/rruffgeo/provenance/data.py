"""The learning data for provenance models, torch-free.

Same rows, order and class list as ``rruffgeo.network.evaluate.load_dataset`` (the network's), so
the project's folds (``cv_splits`` with the same seed) put the same spectra in the same folds and
the network's out-of-fold probabilities line up column by column. Adds what the reference
library needs: each specimen's locality text and coordinates from ``geocoded.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rruffgeo.config import Settings, Split
from rruffgeo.dataset import resampled_learning_table
from rruffgeo.provenance.library import ReferenceLibrary, species_key
from rruffgeo.workdir import GEOCODED, WorkDir


@dataclass
class ProvenanceData:
    """Spectra, country labels, specimen groups and species of the learning table, row-aligned."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    species: np.ndarray
    classes: list[str]
    class_names: list[str]
    table: pd.DataFrame
    grid_cm1: np.ndarray

    def split_groups(self, split: Split | str) -> np.ndarray | None:
        """Row by row, what ``split`` keeps on one side of a fold (its ``group_column``);
        None for the split by spectrum."""
        column = Split(split).group_column
        return None if column is None else self.table[column].to_numpy()

    def library(self) -> ReferenceLibrary:
        cols = ["spectrum_id", "specimen_id", "mineral", "locality", "lat", "lon",
                "country_iso3", "country_name"]
        return ReferenceLibrary(self.X, self.table[cols], self.grid_cm1)


def load_provenance_data(workdir: WorkDir, settings: Settings | None = None) -> ProvenanceData:
    """Learning table with its matrix rows, locality and coordinates (see module doc)."""
    settings = settings or Settings()
    matrix, table = resampled_learning_table(workdir, settings)
    geo = pd.read_parquet(workdir.require(GEOCODED, "geocode"))
    for col, empty in (("locality", ""), ("lat", np.nan), ("lon", np.nan)):
        if col not in geo.columns:
            geo[col] = empty  # a geocoded table without places still gives countries
    geo = geo[["specimen_id", "locality", "lat", "lon"]]
    table = table.merge(geo.drop_duplicates("specimen_id"), on="specimen_id", how="left",
                        validate="many_to_one").reset_index(drop=True)
    classes = sorted(table["country_iso3"].unique())
    names = table.drop_duplicates("country_iso3").set_index("country_iso3")["country_name"]
    y = table["country_iso3"].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    X = np.asarray(matrix.X[matrix.rows_of(table["spectrum_id"].tolist())], dtype=np.float32)
    return ProvenanceData(X, y, table["specimen_id"].to_numpy(),
                          table["mineral"].map(species_key).to_numpy(), classes,
                          [str(names[c]) for c in classes], table, matrix.grid_cm1)
