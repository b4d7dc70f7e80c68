"""`python -m auengine.cli`."""
import sys

from . import main

sys.exit(main())
