"""``python -m inkface`` is the same as the ``inkface`` command."""

from inkface.cli.main import main

raise SystemExit(main())
