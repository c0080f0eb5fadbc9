"""Result bundles and what is derived from raw records: schema, store, comparability, statistics, warnings, metrics."""
