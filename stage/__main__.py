"""``python -m stage``: the same command line as ``stage``."""

from stage.cli import main

raise SystemExit(main())
