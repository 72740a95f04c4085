"""``python -m minigan.gradcheck``: check every layer and print the table."""
import sys

from .suite import main

sys.exit(main())
