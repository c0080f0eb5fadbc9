"""Result databases: bundles indexed into an embedded DuckDB file or pushed to a shared PostgreSQL.

The bundle on disk stays the source of truth; every table here can be rebuilt from bundles. One mapping
(``mapping.py``) turns a bundle into rows for both engines; one versioned schema (``schema.py``) with
migrations describes the tables in SQL both engines accept.
"""
