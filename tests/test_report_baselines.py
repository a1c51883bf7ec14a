"""The class prior beside every score: majority-country rate and one-class words in the figures
(7-9), their captions and the HTML report (issue 10: never hide a model at the class prior)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from report_fixtures import write_catalog_and_geocoded, write_metrics
from rruffgeo.config import Evaluation, Split
from rruffgeo.report.baselines import (
    ONE_CLASS_SHARE,
    Majority,
    majority,
    majority_rate,
    one_class_note,
    one_class_notes,
)
from rruffgeo.report.figures import FIGURES, NO_TEST, country_panel, make_evaluation_figures
from rruffgeo.report.html import evaluation_table, write_report
from rruffgeo.results import METRICS, EvaluationResult, FoldResult

CLASSES = ["USA", "CAN", "MEX", "ITA"]
NAMES = ["United States of America", "Canada", "Mexico", "Italy"]
PRIOR_WORDS = "answers USA for 100% of test spectra: it has learned only the class prior"


def _fold(k: int, test: list[int], predicted: list[int]) -> FoldResult:
    scores = {m: 0.5 for m in METRICS}
    return FoldResult(fold=k, n_train=40, n_test=sum(test), network=dict(scores),
                      baseline_1nn=dict(scores), test_counts=test,
                      predicted_counts={"network": predicted, "baseline_1nn": test})


def _per_country() -> pd.DataFrame:
    """Italy had no test spectra (NaN, as the learning stage writes it); Mexico scored 0."""
    nan = float("nan")
    return pd.DataFrame({
        "country_iso3": CLASSES, "country_name": NAMES, "n_samples": [30, 15, 5, 2],
        "f1_mean": [0.7, 0.3, 0.0, nan], "f1_std": [0.05, 0.1, 0.0, nan],
        "precision_mean": [0.6, 0.5, 0.0, nan], "precision_std": [0.05, 0.1, 0.0, nan],
        "f1_baseline_1nn_mean": [0.6, 0.4, 0.2, nan], "f1_baseline_1nn_std": [0.1] * 3 + [nan],
        "precision_baseline_1nn_mean": [0.6, 0.4, 0.2, nan],
        "precision_baseline_1nn_std": [0.1] * 3 + [nan]})


def _evaluation(predicted: list[int], evaluation: Evaluation = Evaluation.CV,
                split: Split = Split.SPECIMEN) -> EvaluationResult:
    n_folds = 5 if evaluation is Evaluation.CV else 1
    folds = [_fold(k, [6, 3, 1, 0], predicted) for k in range(n_folds)]
    summary = {m: {x: {"mean": 0.5, "std": 0.0} for x in METRICS}
               for m in ("network", "baseline_1nn")}
    ev = EvaluationResult(evaluation, split, folds, summary, classes=CLASSES, class_names=NAMES)
    ev.per_country = _per_country()
    return ev


@pytest.fixture
def stuck() -> EvaluationResult:
    """A network that answers USA for every test spectrum."""
    return _evaluation([10, 0, 0, 0])


def test_majority_rate_is_the_test_folds_prior(stuck):
    assert majority(stuck) == Majority("USA", 0.6, True)  # 6 of each fold's 10 test spectra
    assert majority(stuck).text() == "majority country (USA) 0.600"
    for fold in stuck.folds:  # older metrics files: the shares of all evaluated spectra
        fold.test_counts = []
    assert majority(stuck) == Majority("USA", 30 / 52, False)
    assert majority_rate(stuck) == pytest.approx(30 / 52)


def test_counts_travel_through_the_metrics_file(stuck):
    doc = json.loads(json.dumps(stuck.to_json()))
    back = EvaluationResult.from_json(doc)
    assert back.folds[0].test_counts == [6, 3, 1, 0]
    assert back.folds[0].predicted_counts["network"] == [10, 0, 0, 0]


def test_a_one_class_model_is_said_to_be_so(stuck):
    assert one_class_note(stuck, "network") == PRIOR_WORDS
    assert one_class_notes(stuck) == {"network": PRIOR_WORDS}  # the 1-NN answers as the truth
    at = int(round(ONE_CLASS_SHARE * 100))
    assert one_class_note(_evaluation([at, 100 - at, 0, 0]), "network")
    assert one_class_note(_evaluation([at - 1, 101 - at, 0, 0]), "network") == ""
    for fold in stuck.folds:  # no prediction counts recorded: nothing claimed
        fold.predicted_counts = {}
    assert one_class_notes(stuck) == {}


def test_captions_name_the_protocol_the_prior_and_a_stuck_model(stuck):
    holdout = _evaluation([5, 3, 2, 0], Evaluation.HOLDOUT, Split.SPECTRUM)
    for stem in ("fig7_f1_by_country", "fig8_precision_by_country", "fig9_overall_metrics"):
        caption = FIGURES[stem].caption_for([holdout, stuck])
        assert "split by spectrum (paper), one 80/20 hold-out (a single test set" in caption
        assert "grouped by specimen (no leakage), 5-fold CV (mean ± sd over the 5" in caption
        assert "majority country (USA) 0.600" in caption
        assert f"ConvNeXt1D (grouped by specimen (no leakage), 5-fold CV) {PRIOR_WORDS}" \
            in caption
        assert caption.count("learned only") == 1  # the hold-out network is not stuck


def _bars_at(ax, y: float) -> list[float]:
    """Widths of the bars drawn in the row of ``y``."""
    return [p.get_width() for p in ax.patches if abs(p.get_y() + p.get_height() / 2 - y) < 0.5]


def test_no_test_spectra_is_not_an_f1_of_zero(stuck):
    order = stuck.per_country[["country_iso3", "country_name", "n_samples"]]
    ax = Figure().add_subplot()
    country_panel(ax, stuck, order, "f1")
    assert _bars_at(ax, 3) == []  # Italy: no bar at all ...
    assert [t.get_text() for t in ax.texts if t.get_position()[1] == 3] == [NO_TEST]
    assert sorted(_bars_at(ax, 2)) == [0.0, 0.2]  # ... Mexico: a real 0 beside the 1-NN's 0.2
    labels = ax.get_legend_handles_labels()[1]
    assert set(labels) == {"ConvNeXt1D", "1-NN (cosine) baseline",
                           "majority baseline (always USA; 0 elsewhere)"}
    marker = ax.collections[-1].get_offsets()[0]
    assert tuple(marker) == pytest.approx((2 * 0.6 / 1.6, 0))  # majority F1 in the USA row
    assert PRIOR_WORDS[:40] in ax.get_title() and "majority country (USA) 0.600" in ax.get_title()


def test_report_tables_set_the_majority_beside_accuracy(stuck):
    table = evaluation_table({Split.SPECIMEN: stuck}).set_index("metric")
    cols = list(table.columns)
    stuck_net = "specimen: ConvNeXt1D [answers USA for 100%: class prior only]"
    assert cols.index("specimen: majority (USA)") == cols.index(stuck_net) + 2
    assert "specimen: 1-NN (cosine) baseline" in cols  # the 1-NN is not at the prior
    assert table.loc["accuracy", "specimen: majority (USA)"] == "0.600"
    assert table.loc["f1_macro", "specimen: majority (USA)"] == ""


@pytest.fixture(scope="module")
def stuck_workdir(tmp_path_factory):
    """A work folder whose specimen CV network answers USA for everything."""
    wd = write_catalog_and_geocoded(tmp_path_factory.mktemp("prior") / "work")
    write_metrics(wd, "cv", "spectrum", 0.9, test_counts=[4, 2, 2])
    write_metrics(wd, "train", "specimen", 0.5, test_counts=[6, 3, 1], predicted=[10, 0, 0])
    return wd


def test_report_says_a_model_learned_only_the_prior(stuck_workdir):
    text = write_report(stuck_workdir).read_text(encoding="utf-8")
    assert ("always answering the majority country: 50.0% (USA) vs 60.0% (USA)") in text
    assert ("ConvNeXt1D (grouped by specimen (no leakage), 80/20 hold-out) answers USA for "
            "100% of test spectra: it has learned only the class prior.") in text
    assert "majority country (USA) 0.500" in text and "majority country (USA) 0.600" in text
    assert "specimen: majority (USA)" in text


def test_figures_draw_the_majority_and_the_stuck_model(stuck_workdir):
    res = make_evaluation_figures(stuck_workdir, progress=False)
    fig9 = res.written["fig9_overall_metrics"][1].read_text()
    assert "majority country (USA) 0.500" in fig9 and "majority country (USA) 0.600" in fig9
    words = " ".join(re.findall(r">([^<>]+)</text>", fig9))  # the title's wrapped lines
    assert f"ConvNeXt1D {PRIOR_WORDS}" in words
    fig7 = res.written["fig7_f1_by_country"][1].read_text()
    assert "majority baseline (always USA; 0 elsewhere)" in fig7
    assert np.isfinite(majority_rate(EvaluationResult.read(
        stuck_workdir.root / "metrics" / "train_specimen.json")))


def test_run_summary_says_a_model_learned_only_the_prior(stuck_workdir):
    from rruffgeo.pipeline import PipelineResult, headline_metrics

    summary = PipelineResult(stuck_workdir, headline=headline_metrics(stuck_workdir)).summary()
    lines = summary.splitlines()
    at = next(i for i, ln in enumerate(lines) if "grouped by specimen" in ln)
    assert "majority country 0.600" in lines[at]
    assert lines[at + 1].strip().startswith(f"ConvNeXt1D (grouped by specimen (no leakage), "
                                            f"80/20 hold-out) {PRIOR_WORDS}")
    assert summary.count("learned only") == 1
