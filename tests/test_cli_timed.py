"""``presence-agent set STATUS --for/--until``: bad values are one clear line and exit 2.

In process (cli.main), because every case here ends before anything is contacted.
"""

from __future__ import annotations

import pytest

from presence_agent import cli


def run(capsys, *args: str) -> tuple[int, str]:
    try:
        code = cli.main(["set", *args])
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["away", "--for", "soon"], "--for: not a duration: 'soon'"),
        (["away", "--for", "30"], "--for: '30' has no unit: say 30m for minutes or 30s"),
        (["away", "--for", "0m"], "--for: a duration must be more than zero"),
        (["away", "--for=-5m"], "--for: a duration must be positive"),
        (["busy", "--for", "8d"], "--for: '8d' is longer than 7 days"),
        (["away", "--until", "lunch"], "--until: not a time: 'lunch'"),
        (["away", "--until", "25:00"], "--until: not a time"),
        (["away", "--until", "2020-01-01 9:00"], "--until: "),
        (["available", "--for", "30m"], "'available --for' would change nothing"),
        (["available", "--until", "13:00"], "'available --until' would change nothing"),
    ],
)
def test_bad_values_are_one_clear_line_and_exit_2(capsys, args, words):
    code, err = run(capsys, *args)
    assert code == 2
    assert words in err
    assert err.startswith("presence-agent: ")
    assert len(err.strip().splitlines()) == 1


def test_for_and_until_exclude_each_other(capsys):
    code, err = run(capsys, "away", "--for", "30m", "--until", "13:00")
    assert code == 2
    assert "not allowed with argument" in err


def test_an_unknown_status_is_still_refused_first(capsys):
    code, err = run(capsys, "lunch", "--for", "30m")
    assert code == 2
    assert "unknown status 'lunch'" in err
