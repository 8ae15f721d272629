"""`python -m zones` runs the same command line as the `zones` script."""

from zones.node.cli import main

raise SystemExit(main())
