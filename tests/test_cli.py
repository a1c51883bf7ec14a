from helpers import run_cli
from rruffgeo.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 2
    assert "usage: rruffgeo" in capsys.readouterr().out


def test_module_entry_point_runs():
    assert run_cli("--version").stdout.startswith("rruffgeo ")


def test_head_option_reaches_the_settings_of_run_train_and_cv():
    from rruffgeo.cli import build_parser
    from rruffgeo.cli.learn import settings_from_args
    from rruffgeo.cli.report import _settings_from

    parser = build_parser()
    run = parser.parse_args(["run", "--head", "flatten", "--epochs", "3"])
    assert _settings_from(run).model.head_pool == "flatten"
    assert _settings_from(run).train.epochs == 3
    assert _settings_from(parser.parse_args(["run"])).model.head_pool == "flatten"
    assert _settings_from(parser.parse_args(["run", "--head", "avg"])).model.head_pool == "avg"
    for command in ("train", "cv"):
        args = parser.parse_args([command, "--head", "flatten"])
        assert settings_from_args(args).model.head_pool == "flatten"
        assert settings_from_args(parser.parse_args([command])).model.head_pool == "flatten"
