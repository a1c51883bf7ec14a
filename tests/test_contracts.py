"""The contracts between stages: one vocabulary, typed results, every path from the work folder."""

from __future__ import annotations

import json
import os

import pytest

from rruffgeo.config import Evaluation, Head, Split
from rruffgeo.results import EvaluationResult, FoldResult
from rruffgeo.workdir import WorkDir, file_key, files_digest


def _fold(k: int) -> FoldResult:
    scores = {"accuracy": 0.5 + k / 10, "f1_macro": 0.4}
    return FoldResult(fold=k, n_train=8, n_test=2, network=scores, baseline_1nn=scores,
                      key="abc", history=[{"epoch": 1, "loss": 1.0, "epoch_s": 0.1}])


def test_results_round_trip_through_json(tmp_path):
    fold = _fold(0)
    assert FoldResult.from_json(json.loads(json.dumps(fold.to_json()))) == fold
    ev = EvaluationResult(Evaluation.HOLDOUT, Split.SPECIMEN, [_fold(0)],
                          {"network": {"accuracy": {"mean": 0.5, "std": 0.0}},
                           "baseline_1nn": {"accuracy": {"mean": 0.4, "std": 0.0}}},
                          n_samples=10, settings={"model": {"head_pool": "flatten"}})
    doc = json.loads(json.dumps(ev.to_json()))
    assert doc["protocol"] == "train" and doc["split"] == "specimen"  # the files' vocabulary
    assert doc["folds_run"] == [0] and "history" not in doc["folds"][0]
    path = WorkDir(tmp_path).metrics_file(Evaluation.HOLDOUT, Split.SPECIMEN)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    back = EvaluationResult.read(path)
    assert back.mean("network", "accuracy") == 0.5 and back.path == path
    assert back.label == "grouped by specimen (no leakage), 80/20 hold-out"
    assert back.model_label("network") == "ConvNeXt1D (flatten head)"


def test_a_file_of_another_shape_is_refused_naming_it(tmp_path):
    bad = tmp_path / "cv_spectrum.json"
    bad.write_text(json.dumps({"protocol": "cv", "split": "spectrum"}))
    with pytest.raises(ValueError, match="cv_spectrum.json: not a metrics file"):
        EvaluationResult.read(bad)


def test_every_path_comes_from_the_work_folder(tmp_path):
    wd = WorkDir(tmp_path)
    assert wd.metrics_file("cv", "spectrum") == tmp_path / "metrics" / "cv_spectrum.json"
    assert wd.metrics_file("holdout", "specimen") == tmp_path / "metrics" / "train_specimen.json"
    assert wd.metrics_file("train", "specimen") == wd.metrics_file(Evaluation.HOLDOUT,
                                                                   Split.SPECIMEN)
    assert wd.per_country_file("cv", "spectrum").name == "cv_spectrum_per_country.csv"
    assert wd.model_dir("holdout", "specimen") == tmp_path / "models" / "holdout_specimen"
    assert wd.model_dir("cv", "spectrum", 2) == tmp_path / "models" / "cv_spectrum" / "fold_2"
    assert wd.stamp("report") == tmp_path / "stamps" / "report.json"
    assert not (tmp_path / "metrics").exists()  # paths are pure: nothing created
    with pytest.raises(ValueError):
        wd.metrics_file("cv", "random")


def test_file_key_changes_with_any_rewrite(tmp_path):
    f = tmp_path / "a.zip"
    f.write_bytes(b"one")
    before = file_key(f)
    assert before["name"] == "a.zip" and before["size"] == 3
    st = f.stat()
    f.write_bytes(b"two")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert files_digest([file_key(f)]) != files_digest([before])


def test_every_head_name_has_a_head():
    from rruffgeo.network.heads import HEADS

    assert set(HEADS) == set(Head)


def test_figures_come_from_one_registry_in_number_order():
    from rruffgeo.report.figures import FIGURES, figures_of

    stems = [f.stem for f in figures_of("dataset")] + [f.stem for f in figures_of("evaluation")]
    assert stems == ["fig1_country_map", "fig2_top_countries", "fig3_top_minerals",
                     "fig4_example_spectra", "fig5_resampling", "fig6_architecture",
                     "fig7_f1_by_country",
                     "fig8_precision_by_country", "fig9_overall_metrics",
                     "fig10_learning_curves", "fig11_twin_breakdown",
                     "fig12_novelty_curve"]
    assert all(FIGURES[s].caption.startswith("Figure ") for s in stems)


#: The keys of metrics/provenance_cv_<split>.json as provenance.evaluate has always written
#: them: existing work folders stay readable.
PROVENANCE_KEYS = {"protocol", "split", "n_folds", "n_spectra", "n_specimens", "n_classes",
                   "classes", "class_names", "top3_share", "families", "models", "winners",
                   "calibration", "network_note", "wall_s"}
MODEL_KEYS = {"evidence", "vs_majority", "log_loss_uncalibrated", "ece_uncalibrated", "ece",
              "reliability", "reliability_uncalibrated", "conformal", "one_class",
              "most_predicted", "params_per_fold"}


def test_provenance_report_round_trips_with_the_files_keys(tmp_path):
    from report_fixtures import provenance_report
    from rruffgeo.results import ProvenanceReport

    report = provenance_report("specimen")
    doc = json.loads(json.dumps(report.to_json()))
    assert set(doc) == PROVENANCE_KEYS and doc["split"] == "specimen"
    assert set(doc["models"]["prior"]) == MODEL_KEYS
    assert doc["models"]["prior"]["most_predicted"] == {"class": "USA", "share": 0.6}
    assert "goal" not in doc["winners"]["spectrum"]["goals"]["ece_at_most_0.03"]
    path = WorkDir(tmp_path).provenance_cv_file("specimen")
    path.parent.mkdir()
    report.write(path)
    back = ProvenanceReport.read(path)
    assert back.path == path and back.split is Split.SPECIMEN
    # NaN (an empty reliability bin) survives, so compare the JSON forms
    assert json.dumps(back.to_json()) == json.dumps(report.to_json())
    assert back.winner() == "combination"
    assert back.scores().vs_majority.top1 == report.models["combination"].vs_majority.top1
    assert ProvenanceReport.of(WorkDir(tmp_path), "spectrum") is None  # stage not run


@pytest.mark.parametrize(("damage", "field"), [
    (lambda d: d["models"]["knn_spectra"]["vs_majority"]["top1"].pop("diff_hi"),
     "models.knn_spectra.vs_majority.top1.diff_hi: missing"),
    (lambda d: d["models"]["prior"]["conformal"]["0.9"].update(coverage="high"),
     "models.prior.conformal.0.9.coverage: expected a number, found str"),
    (lambda d: d.update(split="random"), "split: 'random' is not one of"),
    (lambda d: d["winners"]["spectrum"]["goals"]["ece_at_most_0.03"].update(value=None),
     "winners.spectrum.goals.ece_at_most_0.03.value"),
    (lambda d: d.update(models=[]), "models: expected an object, found list"),
])
def test_a_damaged_provenance_report_names_the_file_and_the_field(tmp_path, damage, field):
    from report_fixtures import provenance_report
    from rruffgeo.errors import UserError, describe
    from rruffgeo.results import ProvenanceReport

    doc = provenance_report("specimen").to_json()
    damage(doc)
    path = tmp_path / "provenance_cv_specimen.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError) as caught:
        ProvenanceReport.read(path)
    line = describe(caught.value)
    assert line.startswith(f"{path}: not a provenance CV report: field {field}"), line


def test_a_provenance_report_that_is_not_json_is_one_user_error(tmp_path):
    from rruffgeo.errors import UserError
    from rruffgeo.results import ProvenanceReport

    path = tmp_path / "provenance_cv_spectrum.json"
    path.write_text("{half a file")
    with pytest.raises(UserError, match="provenance_cv_spectrum.json: not valid JSON"):
        ProvenanceReport.read(path)
