"""``python -m minigan ...``: the same command line as ``minigan``."""
import sys

from .cli import main

sys.exit(main())
