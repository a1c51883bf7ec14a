from helpers import run_cli
from rruffgeo.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 2
    assert "usage: rruffgeo" in capsys.readouterr().out


def test_module_entry_point_runs():
    assert run_cli("--version").stdout.startswith("rruffgeo ")
