"""Bad model-kind keys, data options and command-line budgets: each is one line on stderr, exit 2 and no
store, or (a valid replacement) runs."""

from __future__ import annotations

import pytest

from nnstudy.cli import main

GIVEN = """
[study]
name = "kinds"
[data]
name = "moons"
normalize = "none"
[model]
kind = "given"
[[model.layers]]
w = {w}
b = {b}
[train]
engine = "numpy"
"""


def refused(tmp_path, capsys, args: list[str]) -> str:
    """Runs ``nnstudy ARGS --store tmp/store``: exit 2, one line, no store; returns the line."""
    store = tmp_path / "store"
    code = main([*args, "--store", str(store)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not store.exists()
    return err


def write(tmp_path, text: str, name: str = "s.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("w, b, key, got", [
    ('[["1", 1]]', "[0]", "model.layers.0.w", "not a string (got '1')"),
    ("[[true, 1]]", "[0]", "model.layers.0.w", "not a boolean (got true)"),
    ("[[1, 1]]", '["0"]', "model.layers.0.b", "not a string (got '0')"),
])
def test_a_string_or_boolean_in_given_weights_is_refused_at_any_depth(tmp_path, capsys, w, b, key, got):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, GIVEN.format(w=w, b=b))])
    assert f"{key}: input should be a number, {got}" in err
