"""``python -m tinygrad_edu.bench``: the same options as ``tinygrad-edu bench``."""
import sys

from . import main

sys.exit(main())
