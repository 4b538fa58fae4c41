"""``python -m nodeflow.editor [FILE]`` opens the editor (the same as ``audiochain edit``)."""
import sys

from .cli import main

sys.exit(main())
