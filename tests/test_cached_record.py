"""``results.cached_record``: the one rule by which cached measurements are re-used."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rruffgeo.results import JsonRecord, cached_record


@dataclass
class Counted(JsonRecord):
    key: str
    value: int

    @classmethod
    def read(cls, path):
        return cls.from_file(path, "a count") if path.exists() else None


def test_a_record_is_reused_only_for_its_key_and_redone_on_force(tmp_path):
    path, made = tmp_path / "count.json", []

    def compute(key):
        def make():
            made.append(key)
            return Counted(key=key, value=len(made))
        return make

    first = cached_record(path, Counted.read, "a", compute("a"))
    assert json.loads(path.read_text()) == {"key": "a", "value": 1}
    assert cached_record(path, Counted.read, "a", compute("a")) == first and made == ["a"]
    assert cached_record(path, Counted.read, "b", compute("b")).value == 2  # inputs changed
    assert cached_record(path, Counted.read, "b", compute("b"), force=True).value == 3
    assert made == ["a", "b", "b"] and json.loads(path.read_text())["value"] == 3
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically, nothing left beside it
