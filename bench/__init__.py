"""infercost: what does a task cost, how fast, and how well, on this device versus that cloud API.

The import package is ``bench`` (the distribution is ``infercost``); ``python -m bench`` runs the CLI.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
