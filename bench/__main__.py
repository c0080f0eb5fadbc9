"""``python -m bench`` is the same as the ``infercost`` console script."""

from bench.cli.app import main

raise SystemExit(main())
