from helpers import run_cli
from rruffgeo.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 2
    assert "usage: rruffgeo" in capsys.readouterr().out


def test_module_entry_point_runs():
    assert run_cli("--version").stdout.startswith("rruffgeo ")


def test_head_option_reaches_the_settings_of_run_train_and_cv():
    from rruffgeo.cli import build_parser
    from rruffgeo.cli.common import settings_from_args

    parser = build_parser()
    run = parser.parse_args(["run", "--head", "flatten", "--epochs", "3"])
    assert settings_from_args(run).model.head_pool == "flatten"
    assert settings_from_args(run).train.epochs == 3
    assert settings_from_args(parser.parse_args(["run"])).model.head_pool == "flatten"
    assert settings_from_args(parser.parse_args(["run", "--head", "avg"])).model.head_pool == "avg"
    for command in ("train", "cv"):
        args = parser.parse_args([command, "--head", "flatten"])
        assert settings_from_args(args).model.head_pool == "flatten"
        assert settings_from_args(parser.parse_args([command])).model.head_pool == "flatten"


def _options_of(parser) -> dict[str, set[str]]:
    """Each subcommand's option strings."""
    sub = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    return {name: {o for a in p._actions for o in a.option_strings}
            for name, p in sub.choices.items()}


def test_every_settings_option_of_a_command_reaches_its_settings():
    """Each option a settings field names, on each command that has it, lands in that field."""
    from dataclasses import fields

    from rruffgeo.cli import build_parser
    from rruffgeo.cli.common import settings_from_args
    from rruffgeo.config import Settings

    values = {"--grid-points": "512", "--head": "avg", "--lr": "0.002", "--epochs": "7",
              "--batch-size": "16", "--n-folds": "4", "--min-samples-per-country": "3",
              "--split": "specimen", "--seed": "9", "--device": "cpu", "--threads": "1",
              "--inner-val": "0.25", "--precision": "bf16", "--jobs": "2", "--workers": "3",
              "--online": None}
    parser = build_parser()
    checked = 0
    for command in ("spectra", "train", "cv", "stats", "figures", "report", "run",
                    "provenance-cv", "provenance-fit"):
        options = _options_of(parser)[command]
        argv = [command]
        for option, value in values.items():
            if option in options and not (command == "provenance-cv" and option == "--split"):
                argv += [option] if value is None else [option, value]
        s = settings_from_args(parser.parse_args(argv))
        for section in fields(Settings):
            for f in fields(getattr(s, section.name)):
                option = f.metadata.get("option")
                if option in argv:
                    given = values[option]
                    got = getattr(getattr(s, section.name), f.name)
                    assert (got is True if given is None else str(got) == given
                            or got == type(got)(given)), (command, option, got)
                    checked += 1
    assert checked > 40
    seeded = settings_from_args(parser.parse_args(["provenance-cv", "--seed", "4"]))
    assert seeded.train.seed == seeded.provenance.seed == 4


def test_provenance_cv_split_both_is_not_a_training_split():
    from rruffgeo.cli import build_parser
    from rruffgeo.cli.common import settings_from_args

    args = build_parser().parse_args(["provenance-cv", "--split", "both"])
    assert args.protocols == "both"
    assert settings_from_args(args).train.split == "spectrum"
