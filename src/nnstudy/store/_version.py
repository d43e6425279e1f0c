"""The store's schema version, without SQLAlchemy: _schema.py and _migrate.py use it, and store/_read.py reads
only a store of this version (a new column the report needs goes into its SELECT statements too)."""

SCHEMA_VERSION = 3
