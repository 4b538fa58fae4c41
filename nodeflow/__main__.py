"""``python -m nodeflow`` runs the ``audiochain`` command (where the script is not on ``PATH``)."""
import sys

from .cli import main

sys.exit(main())
