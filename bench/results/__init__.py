"""Result bundles and what is derived from raw records.

Schema, bundle store, comparability keys, statistics, variability warnings and request metrics.
"""
