"""``python -m bpcheck``: the same command as the ``bpcheck`` console script (``grader.cli:main``)."""

from grader.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
