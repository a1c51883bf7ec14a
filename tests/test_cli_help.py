"""Every subcommand's options carry help text, and that text names the default."""

import argparse

from rruffgeo.cli import build_parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_has_help_naming_its_default():
    problems = []
    for name, sub in _subparsers().items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = action.help or ""
            if not text:
                problems.append(f"{name} {action.option_strings or action.dest}: no help")
            elif (action.option_strings and action.default not in (None, False, [])
                  and "default" not in text):
                problems.append(f"{name} {action.option_strings}: default "
                                f"{action.default!r} not in its help")
    assert problems == []
