"""Every registered part runs on tiny synthetic data, as timm's tests run every registered
model: registering a figure or a classifier head is enough for it to be exercised here."""

from __future__ import annotations

import pytest

from report_fixtures import write_every_input
from rruffgeo.config import Split
from rruffgeo.report.figures import FIGURES, GROUPS, FigureInputs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return write_every_input(tmp_path_factory.mktemp("registries") / "work")


def test_every_figure_is_in_a_known_group_with_a_caption():
    assert {f.group for f in FIGURES.values()} == set(GROUPS)
    assert all(f.caption.strip() for f in FIGURES.values())


@pytest.mark.parametrize("stem", sorted(FIGURES))
def test_every_registered_figure_draws_png_and_svg(workdir, stem):
    spec = FIGURES[stem]
    split = Split.SPECIMEN if spec.group == "provenance" else None
    src = FigureInputs(workdir, split=split)
    workdir.dir("figures")
    paths = spec.draw(src, spec.base(workdir, split))
    assert [p.suffix for p in paths] == [".png", ".svg"]
    png, svg = paths
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5_000
    assert b"<svg" in svg.read_bytes()[:500]
    assert png.with_suffix("") == spec.base(workdir, split)


def test_a_provenance_figure_without_its_report_says_how_to_get_it(tmp_path):
    from rruffgeo.report.figures_provenance import make_provenance_figures
    from rruffgeo.workdir import WorkDir

    result = make_provenance_figures(WorkDir(tmp_path), Split.SPECTRUM)
    assert result.written == {}
    assert all("rruffgeo provenance-cv" in why for why in result.skipped.values())
    assert set(result.skipped) == {f.stem for f in FIGURES.values() if f.group == "provenance"}


def _heads() -> list[str]:
    from rruffgeo.network.heads import HEADS

    return sorted(HEADS)


@pytest.mark.parametrize("head", _heads())
def test_every_registered_head_classifies_a_tiny_batch(head):
    import torch

    from rruffgeo.network.convnext1d import ConvNeXt1D

    torch.manual_seed(0)
    model = ConvNeXt1D(num_classes=3, head_pool=head, input_length=256, depths=(1, 1),
                       dims=(8, 16)).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 1, 256))
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
