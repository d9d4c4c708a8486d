"""``python -m bpcheck``: the same command as the ``bpcheck`` console script (``bpcheck.cli:main``)."""

from bpcheck.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
