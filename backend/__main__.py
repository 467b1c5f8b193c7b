"""`python -m backend ...`: see backend.cli."""

from backend.cli import main

raise SystemExit(main())
