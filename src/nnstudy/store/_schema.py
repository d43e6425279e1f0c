"""Tables, shared by SQLite and PostgreSQL (SQLAlchemy Core). A change here is a new version in _migrate.py."""

from sqlalchemy import (Column, Float, ForeignKey, Integer, LargeBinary, MetaData, String, Table, Text,
                        UniqueConstraint)

from ._version import SCHEMA_VERSION  # noqa: F401  (bumped there, with each step of _migrate.py)

metadata = MetaData()

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

studies = Table(
    "studies", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("spec_json", Text, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("task", String(32), nullable=False),
    Column("metrics_json", Text, nullable=False),
    Column("swept_keys_json", Text, nullable=False),
    Column("trial_ids_json", Text, nullable=False),  # the trials of the latest expansion, in order
    Column("environment_json", Text, nullable=False, default="{}"),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

trials = Table(
    "trials", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_id", Integer, ForeignKey("studies.id"), nullable=False, index=True),
    Column("trial_id", String(32), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("config_json", Text, nullable=False),
    Column("point_json", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | running | done | failed | diverged
    Column("owner", String(128)),  # host:pid of the process running it
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),  # claims so far (v2)
    Column("error", Text),
    Column("final_json", Text),
    Column("started_at", String(32)),
    Column("finished_at", String(32)),
    Column("conditions_json", Text),  # what its timing depends on: device, threads, host, versions (v3)
    UniqueConstraint("study_id", "trial_id"),
)

epochs = Table(
    "epochs", metadata,
    Column("trial_pk", Integer, ForeignKey("trials.id"), primary_key=True),
    Column("epoch", Integer, primary_key=True),
    Column("metric", String(128), primary_key=True),
    Column("value", Float),
)

artifacts = Table(
    "artifacts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trial_pk", Integer, ForeignKey("trials.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("trial_pk", "name"),
)
