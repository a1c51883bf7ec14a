"""Figure 6: the ConvNeXt1D diagram is read from the configured network (issue 13.5)."""

from __future__ import annotations

import numpy as np

from rruffgeo.config import ModelSettings, Settings, SpectraSettings
from rruffgeo.network.modelio import build_network, save_model
from rruffgeo.report.architecture import (
    describe_block,
    describe_network,
    fig_architecture,
    trained_class_count,
)
from rruffgeo.workdir import WorkDir
from synthetic_learn import make_workdir


def _settings(head: str = "flatten") -> Settings:
    return Settings(spectra=SpectraSettings(grid_points=256),
                    model=ModelSettings(depths=(1, 3), dims=(8, 24), head_pool=head))


def test_boxes_follow_the_configuration():
    boxes = describe_network(_settings(), n_classes=5)
    titles = [b.title for b in boxes]
    assert titles[0] == "input spectrum" and "256 grid points" in boxes[0].detail
    assert titles[1] == "stem: Conv1d k4 s4 + LayerNorm" and "8 channels x 64 positions" in \
        boxes[1].detail
    assert titles[2] == "stage 1: 1 x ConvNeXt1D block"
    assert titles[3] == "downsample: LayerNorm + Conv1d k2 s2"
    assert "24 channels x 32 positions" in boxes[3].detail
    assert titles[4] == "stage 2: 3 x ConvNeXt1D block"
    assert "each of 32 positions" in titles[5] and "Linear 768 -> 5 countries" in boxes[5].detail
    avg = describe_network(_settings("avg"))
    assert "global average pool" in avg[-1].title and "Linear 24 -> K" in avg[-1].detail
    block = [b.title for b in describe_block(_settings())]
    assert "depthwise Conv1d k7, padding 3" in block
    assert "C -> 4C" in [b.detail for b in describe_block(_settings())]


def test_class_count_comes_from_a_matching_trained_model(tmp_path):
    wd = make_workdir(tmp_path / "work")  # 3 countries in the learning table
    s = _settings()
    assert trained_class_count(wd, s) == 3
    net = build_network(7, s.model, 256)
    save_model(wd.root / "models" / "holdout_specimen", net, list("ABCDEFG"), list("ABCDEFG"),
               np.linspace(0, 1000, 256), s)
    assert trained_class_count(wd, s) == 7
    assert trained_class_count(wd, _settings("avg")) == 3  # other configuration
    assert trained_class_count(WorkDir(tmp_path / "empty"), s) is None


def test_figure_written_with_the_configuration_in_it(tmp_path):
    png, svg = fig_architecture(_settings(), tmp_path / "fig6", n_classes=5)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text()
    assert "depths (1, 3)" in text and "stage 2: 3 x ConvNeXt1D block" in text
