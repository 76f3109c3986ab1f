"""``python -m inkface`` is the same as the ``inkface`` command."""

from inkface.cli.main import main

if __name__ == "__main__":  # spawned worker processes import this module too
    raise SystemExit(main())
