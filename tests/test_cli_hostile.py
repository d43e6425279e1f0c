"""The hostile command-line corpus (issue 17): each case is exit 2 and one line on stderr holding given words,
no traceback, and nothing written where it should not be. With tests/bad_studies/*.toml (checked by
tests/test_spec.py) this is the project's hostile corpus."""

from __future__ import annotations

import sqlite3

import pytest

from nnstudy.cli import main

GOOD = """
[study]
name = "good"
description = "[/bold] \\u001b[2J <b>x</b>"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 1
[sweep]
"train.lr" = [0.1, 0.05]
[trials]
seeds = 1
"""
DEEP = "[" * 3000 + "]" * 3000

# (id, arguments with {study} {store} {file} {dir} {binary} {empty} placeholders, words of the one line)
CASES = [
    ("show-percent", ["show", "%"], "hexadecimal digits"),
    ("show-underscores", ["show", "____________"], "hexadecimal digits"),
    ("show-empty", ["show", ""], "hexadecimal digits"),
    ("show-short", ["show", "abc"], "first 4+ characters"),
    ("show-sql", ["show", "'; DROP TABLE trials; --"], "hexadecimal digits"),
    ("show-escape", ["show", "\x1b[2Jabcd"], "\\x1b[2Jabcd"),
    ("show-percent-suffix", ["show", "abcd%"], "hexadecimal digits"),
    ("show-unknown", ["show", "abcdef"], "no trial 'abcdef' in the store"),
    ("show-no-store", ["show", "abcdef", "--store", "{dir}/none"], "no store at"),
    ("show-missing-arg", ["show"], "the following arguments are required: trial_id"),
    ("ls-no-store", ["ls", "--store", "{dir}/none"], "no store at"),
    ("ls-store-is-file", ["ls", "--store", "{file}"], "is a file, not a folder"),
    ("ls-bad-url", ["ls", "--store", "nosuchdb://x"], "no database driver"),
    ("report-unknown", ["report", "nope"], "no study named 'nope'"),
    ("report-out-file", ["report", "good", "--out", "{file}"], "is a file, not a folder"),
    ("report-out-under-file", ["report", "good", "--out", "{file}/sub"], "is a file, not a folder"),
    ("report-no-store", ["report", "good", "--store", "{dir}/none"], "no store at"),
    ("run-missing-file", ["run", "{dir}/missing.toml"], "no such study file"),
    ("run-directory", ["run", "{dir}"], "cannot read the study file"),
    ("run-binary", ["run", "{binary}"], "cannot read the study file"),
    ("run-empty", ["run", "{empty}"], "missing section [study]"),
    ("run-workers-zero", ["run", "{study}", "--workers", "0"], "--workers 0: must be at least 1"),
    ("run-workers-negative", ["run", "{study}", "--workers", "-3"], "--workers -3: must be at least 1"),
    ("run-workers-text", ["run", "{study}", "--workers", "many"], "invalid int value: 'many'"),
    ("run-device", ["run", "{study}", "--device", "tpu"], "invalid choice: 'tpu'"),
    ("run-stack", ["run", "{study}", "--stack", "maybe"], "invalid choice: 'maybe'"),
    ("run-executor", ["run", "{study}", "--executor", "slurm"], "invalid choice: 'slurm'"),
    ("run-address-local", ["run", "{study}", "--address", "auto"], "--address auto: only for --executor ray"),
    ("run-store-is-file", ["run", "{study}", "--store", "{file}"], "is a file, not a folder"),
    ("run-store-under-file", ["run", "{study}", "--store", "{file}/sub"], "is a file, not a folder"),
    ("set-inf", ["run", "{study}", "--set", "train.l1=inf"], "train.l1: input should be a finite number"),
    ("sweep-inf", ["run", "{study}", "--sweep", "train.lr=0.1,inf"], "train.lr: input should be a finite number"),
    ("sweep-nan", ["run", "{study}", "--sweep", "data.noise=nan"], "data.noise: input should be a finite number"),
    ("set-nan", ["run", "{study}", "--set", "data.noise=nan"], "data.noise: input should be a finite number"),
    ("set-minus-inf", ["run", "{study}", "--set", "train.l2=-inf"], "train.l2: input should be a finite number"),
    ("set-no-equals", ["run", "{study}", "--set", "train.lr"], "expected KEY=VALUE"),
    ("set-no-key", ["run", "{study}", "--set", "=1"], "expected KEY=VALUE"),
    ("set-not-dotted", ["run", "{study}", "--set", "lr=1"], "not a dotted key such as train.lr"),
    ("set-unknown-section", ["run", "{study}", "--set", "nope.lr=1"], "not a dotted key such as train.lr"),
    ("set-not-a-table", ["run", "{study}", "--set", "study.name.x=1"], "name is not a table"),
    ("set-seed-range", ["run", "{study}", "--set", "trials.seeds=[4294967296]"], "seed 4294967296 is out of range"),
    ("set-split-seed", ["run", "{study}", "--set", "data.split_seed=1e11"], "data.split_seed: input should be less"),
    ("set-n-samples", ["run", "{study}", "--set", "data.n_samples=1e12"], "data.n_samples: input should be less"),
    ("set-metrics-twice", ["run", "{study}", "--set", 'report.metrics=["val_loss","val_loss"]'],
     "names 'val_loss' more than once"),
    ("set-one-class", ["run", "{study}", "--set", "data.classes=[0]"], "data.classes: [0] keeps one class"),
    ("set-deep", ["run", "{study}", "--set", f"model.hidden={DEEP}"], "more characters left out): nested too deeply"),
    ("set-unclosed", ["run", "{study}", "--set", "model.hidden=[8"],
     "--set model.hidden=[8: not a valid TOML value (Unclosed array (at end of document))"),
    ("sweep-unclosed", ["run", "{study}", "--sweep", "model.hidden=[8],["],
     "--sweep model.hidden=[8],[: not a valid TOML value (Invalid value (at end of document))"),
    ("set-unterminated", ["run", "{study}", "--set", 'study.description="half'], "not a valid TOML value"),
    ("set-markup-activation", ["run", "{study}", "--set", 'model.activation="[/bold]"'],
     "'[/bold]' is not allowed"),
    ("set-escape-activation", ["run", "{study}", "--set", 'model.activation="\\u001b[2J"'],
     "'\\x1b[2J' is not allowed"),
    ("set-unknown-key", ["run", "{study}", "--set", "train.nothing=1"], "train.nothing: unknown key"),
    ("compare-unknown", ["compare", "nope"], "no study named 'nope'"),
    ("compare-itself", ["compare", "good"], "compare good with itself: give --where twice"),
    ("compare-itself-one-where", ["compare", "good", "--where", "train.lr=0.1"], "give --where twice"),
    ("compare-where-thrice", ["compare", "good", "--where", "a=1", "--where", "b=2", "--where", "c=3"],
     "--where given 3 times"),
    ("compare-where-no-equals", ["compare", "good", "--where", "oops", "--where", "train.lr=0.1"],
     "--where oops: expected KEY=VALUE"),
    ("compare-where-unknown-value", ["compare", "good", "--where", "train.lr=7", "--where", "train.lr=0.1"],
     "no trial has train.lr=7"),
    ("compare-where-nan", ["compare", "good", "--where", "train.lr=nan", "--where", "train.lr=0.1"],
     "no trial has train.lr=nan (it takes: "),
    ("compare-where-unclosed", ["compare", "good", "--where", "model.hidden=[8", "--where", "train.lr=0.1"],
     "--where model.hidden=[8: not a valid TOML value"),
    ("compare-same-twice", ["compare", "good", "--where", "train.lr=0.1", "--where", "train.lr=0.1"],
     "A and B are the same trials"),
    ("compare-out-file", ["compare", "good", "--where", "train.lr=0.1", "--where", "train.lr=0.05", "--out",
                          "{file}"], "is a file, not a folder"),
    ("gradcheck-batch", ["gradcheck", "{study}", "--batch", "0"], "need a batch >= 1"),
    ("gradcheck-point", ["gradcheck", "{study}", "--point", "zz"], "--point zz: expected KEY=VALUE, e.g. --point"),
    ("summary-point", ["summary", "{study}", "--point", "zz"], "--point zz: expected KEY=VALUE, e.g. --point"),
    ("serve-host", ["serve", "--host", "999.1.1.1", "--port", "18999", "--store", "{store}"], "--host 999.1.1.1: "),
    ("run-store-empty", ["run", "{study}", "--store", ""], "run: argument --store: empty: name a folder"),
    ("report-out-blank", ["report", "good", "--out", " "], "report: argument --out: empty: name a folder"),
    ("gradcheck-missing", ["gradcheck", "{dir}/missing.toml"], "no such study file"),
    ("summary-missing", ["summary", "{dir}/missing.toml"], "no such study file"),
    ("unknown-command", ["frobnicate"], "invalid choice: 'frobnicate'"),
    ("no-command", [], "the following arguments are required: command"),
    ("data-no-subcommand", ["data"], "the following arguments are required: data_command"),
    # TOML dates and times on the command line are read as their text, as any bare word (json.dumps raised)
    ("set-date-swept", ["run", "{study}", "--set", "train.lr=1979-05-27"], '--set train.lr="1979-05-27": train.lr is swept'),
    ("sweep-date", ["run", "{study}", "--sweep", "train.lr=0.1,1979-05-27"],
     "train.lr: input should be a number, not a string (got '1979-05-27')"),
    ("sweep-time-other", ["run", "{study}", "--sweep", "train.l2=07:32:00"], "train.l2: input should be a number"),
    ("gradcheck-point-date", ["gradcheck", "{study}", "--point", "train.lr=1979-05-27"],
     '--point train.lr="1979-05-27": no configuration has it (values: 0.1, 0.05)'),
    ("summary-point-time", ["summary", "{study}", "--point", "train.lr=07:00:00"],
     '--point train.lr="07:00:00": no configuration has it'),
    # a key given twice: the last would silently overrule the first
    ("summary-point-twice", ["summary", "{study}", "--point", "train.lr=0.1", "--point", "train.lr=0.05"],
     "--point train.lr: given twice; give each key once"),
    ("gradcheck-point-twice", ["gradcheck", "{study}", "--point", "train.lr=0.1", "--point", " train.lr=0.1"],
     "--point train.lr: given twice; give each key once"),
    ("set-twice", ["run", "{study}", "--set", "train.epochs=1", "--set", "train.epochs=2"],
     "--set train.epochs: given twice; give each key once"),
    # names the system refuses: one line, not an OSError from Path.exists()
    ("ls-store-name-too-long", ["ls", "--store", "{dir}/" + "a" * 300], "a name in it is 300 bytes long"),
    ("run-store-name-too-long", ["run", "{study}", "--store", "{dir}/" + "a" * 300], "a name in it is 300 bytes"),
    ("show-store-path-too-long", ["show", "abcdef", "--store", "/tmp/" + "/".join(["b" * 200] * 25)],
     "more than this system takes"),
    ("report-store-url-too-long", ["report", "good", "--store", "sqlite:///{dir}/" + "a" * 300 + ".db"],
     "a name in it is 303 bytes long"),
    ("report-out-name-too-long", ["report", "good", "--out", "{dir}/" + "a" * 300], "a name in it is 300 bytes long"),
    ("compare-out-path-too-long", ["compare", "good", "--where", "train.lr=0.1", "--where", "train.lr=0.05", "--out",
                                   "/tmp/" + "/".join(["b" * 200] * 25)], "more than this system takes"),
    ("export-parquet-name-too-long", ["export", "good", "--to", "parquet", "{dir}/" + "a" * 300 + ".parquet"],
     "a name in it is 308 bytes long"),
    ("export-tensorboard-name-too-long", ["export", "good", "--to", "tensorboard", "{dir}/" + "a" * 300],
     "a name in it is 300 bytes long"),
    ("set-module-name-too-long", ["run", "{study}", "--set", 'model.kind="module"', "--set",
                                  'model.module="' + "a" * 300 + '.py:Net"'], "a name in it is 303 bytes long"),
    ("set-function-name-too-long", ["run", "{study}", "--set", 'train.function="' + "a" * 300 + '.py:f"'],
     "a name in it is 303 bytes long"),
    # bytes that are not UTF-8 (a Latin-1 terminal) arrive as lone surrogates: SQLite could not take them
    ("report-name-not-utf8", ["report", "go\udcffod"], "go\\udcffod: not a study file, and not UTF-8 text"),
    ("show-not-utf8", ["show", "ab\udcffcd"], "ab\\udcffcd: not UTF-8 text"),
    ("set-value-not-utf8", ["run", "{study}", "--set", "study.description=caf\udce9"],
     "--set study.description=caf\\udce9: not UTF-8 text"),
    ("where-not-utf8", ["compare", "good", "--where", "train.lr=\udcff", "--where", "train.lr=0.05"],
     "--where train.lr=\\udcff: not UTF-8 text"),
    ("as-not-utf8", ["run", "{study}", "--as", "\udcff"], "--as \\udcff: not UTF-8 text"),
    ("export-name-not-utf8", ["export", "go\udcffod", "--to", "parquet", "{dir}/x.parquet"], "not UTF-8 text"),
    # a long value cut where it is repeated, so that what is allowed still shows
    ("set-long-value-of-a-swept-key", ["run", "{study}", "--set", "train.lr=" + "a" * 5000],
     "more characters left out): train.lr is swept by the study file"),
    ("set-long-name-of-a-choice", ["run", "{study}", "--set", "model.activation=" + "a" * 5000],
     "more characters left out) is not allowed ('relu', 'tanh', 'sigmoid', 'elu', 'selu', 'leaky_relu' or 'identity')"),
    ("set-long-dataset-name", ["run", "{study}", "--set", "data.name=" + "a" * 5000],
     'more characters left out) (your own: name = "file" with path, or loader; built in: breast-cancer'),
    ("set-long-model-kind", ["run", "{study}", "--set", "model.kind=" + "a" * 5000],
     "more characters left out) (allowed: "),
    ("set-race-min-beyond-integers", ["run", "{study}", "--set", "trials.seeds={{min = 1e308, max = 5}}"],
     "trials.seeds: seeds.min: input should be a whole number from 2 to 10000 (a race is"),
    # misleading lines
    ("set-bool-for-a-name", ["run", "{study}", "--set", "model.activation=true"],
     "model.activation: input should be 'elu' or"),
    ("set-sweep-axis", ["run", "{study}", "--set", 'sweep."train.lr"=[0.5]'],
     "--set sweep.\"train.lr\": the sweep's axes are set with --sweep KEY=V1,V2,..."),
    ("compare-where-quoted-number", ["compare", "good", "--where", 'train.lr="0.1"', "--where", "train.lr=0.05"],
     'no trial has train.lr="0.1" (in quotes: text, not 0.1; write it without the quotes) (it takes: 0.1, 0.05)'),
    ("export-empty-place", ["export", "good", "--to", "parquet", ""], "--to parquet: empty: name a file"),
    ("export-parquet-folder", ["export", "good", "--to", "parquet", "{dir}"], "a folder, not a file; name a file"),
    ("set-l1-beyond-float32", ["run", "{study}", "--set", "train.l1=1e300"], "train.l1: 1e+300 is beyond float32"),
]
assert len({c[0] for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    study = root / "good.toml"
    study.write_text(GOOD)
    store = root / "store"
    assert main(["run", str(study), "--store", str(store), "--workers", "1"]) == 0
    (root / "a-file").write_text("x")
    (root / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    (root / "empty.toml").write_text("")
    (root / "dir").mkdir()
    return {"study": str(study), "store": str(store), "file": str(root / "a-file"), "dir": str(root / "dir"),
            "binary": str(root / "binary.toml"), "empty": str(root / "empty.toml")}


@pytest.mark.parametrize("argv, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_command_line_is_one_line_and_exit_2(places, capsys, argv, words):
    args = [a.format(**places) for a in argv]
    if args and args[0] in ("show", "ls", "report", "run", "compare", "export") and "--store" not in args:
        args += ["--store", places["store"]]
    before = store_rows(places["store"])
    capsys.readouterr()
    assert main(args) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnstudy: error: "), err
    assert words in lines[0], lines[0]
    assert "Traceback" not in err and len(lines[0]) < 420
    assert not any(c in err for c in ("\x1b", "\x07")), err
    assert open(places["file"]).read() == "x"  # a file given as --store or --out is left as it was
    assert store_rows(places["store"]) == before


def store_rows(store: str) -> list[tuple]:
    """Every row of every table of the store, to compare before and after a refused command."""
    with sqlite3.connect(f"file:{store}/nnstudy.sqlite?mode=ro", uri=True) as c:
        tables = [t for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return [(t, *row) for t in tables for row in c.execute(f'SELECT * FROM "{t}" ORDER BY 1')]


def test_a_store_path_with_spaces_and_accents_is_named_as_written(tmp_path, capsys):
    """Messages name a SQLite store by its path, not by its URL (sqlite:///…/st%20%C3%BC/nnstudy.sqlite)."""
    from nnstudy.store import Store
    from nnstudy.store._engine import shown

    store = tmp_path / "my runs" / "stü"
    Store(store)
    assert main(["report", "nope", "--store", str(store)]) == 2
    assert capsys.readouterr().err.strip() == (f"nnstudy: error: no study named 'nope' in {store}/nnstudy.sqlite "
                                               f"(see `nnstudy ls`)")
    assert shown("postgresql://me:secret@db/lab") == "postgresql://me:***@db/lab"


def test_a_report_folder_named_in_bytes_that_are_not_utf8_is_written_and_shown_escaped(places, tmp_path, capsys):
    """A Latin-1 folder name is a path like any other; printing it raised UnicodeEncodeError on a UTF-8 stdout."""
    out = tmp_path / "caf\udce9"
    assert main(["report", "good", "--out", str(out), "--store", places["store"]]) == 0
    assert capsys.readouterr().out.strip().endswith("files to " + str(tmp_path) + "/caf\\udce9")
    assert (out / "report.html").exists()
