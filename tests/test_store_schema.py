"""Schema versions on SQLite and PostgreSQL: a v1 store is migrated in place; a newer one, or a store that
cannot be reached, is one line and exit 2."""

import time

from sqlalchemy import create_engine, text

from nnstudy.cli import main
from nnstudy.store import Store, resolve_url
from nnstudy.store._migrate import MIGRATIONS
from nnstudy.store._schema import SCHEMA_VERSION
from test_store import register, statuses


def execute(store: str, *statements: str) -> None:
    engine = create_engine(resolve_url(store))
    with engine.begin() as c:
        for sql in statements:
            c.exec_driver_sql(sql)
    engine.dispose()


def make_v1(store: str) -> None:
    """A store as nnstudy 0.1 wrote it: today's tables less what versions 2 and 3 added, two trials run."""
    db = Store(store)
    register(db, 3)
    db.claim("s", "t000")
    db.finish("s", "t000", "done", {"test_accuracy": 0.5}, [{"epoch": 1, "train_loss": 0.7}], {}, None)
    db.claim("s", "t001")
    db.engine.dispose()
    execute(store, "ALTER TABLE trials DROP COLUMN attempts", "ALTER TABLE trials DROP COLUMN conditions_json",
            "UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def test_a_version_1_store_is_migrated_in_place(any_store):
    make_v1(any_store)
    db = Store(any_store)
    print(f"opened a v1 store: applied {[(m.version, m.what) for m in db.migrated]}")
    assert [m.version for m in db.migrated] == list(range(2, SCHEMA_VERSION + 1)) == [m.version for m in MIGRATIONS]
    with db.engine.begin() as c:
        assert c.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar() == str(SCHEMA_VERSION)
        attempts = dict(c.execute(text("SELECT trial_id, attempts FROM trials")).all())
    assert attempts == {"t000": 1, "t001": 1, "t002": 0}  # started trials count one start
    assert statuses(db) == {"t000": "done", "t001": "running", "t002": "pending"}
    assert db.snapshot("s").history.value.tolist() == [0.7]
    db.claim("s", "t002")  # v3: a trial finished now keeps the conditions it ran under
    db.finish("s", "t002", "done", {}, [], {}, None, {"device": "cpu", "threads": 2})
    assert db.snapshot("s").conditions == {"t002": {"device": "cpu", "threads": 2}}
    assert Store(any_store).migrated == []  # once


def test_a_newer_store_is_refused_with_one_line(any_store, capsys):
    Store(any_store).engine.dispose()
    execute(any_store, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    assert main(["ls", "--store", any_store]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "schema version 99" in err and "upgrade nnstudy" in err, err


def test_bad_or_unreachable_stores_are_one_line_and_exit_2(pg_server, tmp_path, capsys):
    cases = {
        f"postgresql://nnstudy@127.0.0.1:{pg_server.port}/no_such_db": 'database "no_such_db" does not exist',
        "postgresql://nnstudy@127.0.0.1:1/db": "Connection refused",
        "postgresql://::nope": "not a folder or a database URL",
        "nosuch://host/db": "no database driver",
    }
    for store, expected in cases.items():
        start = time.monotonic()
        assert main(["run", str(tmp_path / "missing.toml"), "--store", store]) == 2  # the study file first
        assert main(["ls", "--store", store]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and expected in err[1], err
        assert time.monotonic() - start < 15
    assert main(["ls", "--store", pg_server.url("postgres")]) == 2  # a database without nnstudy's tables
    assert "no nnstudy store" in capsys.readouterr().err
