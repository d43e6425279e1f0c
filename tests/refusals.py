"""What the hostile-input tests share: a command refused in one line, a study file written for it."""

from __future__ import annotations

from nnstudy.cli import main


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
