"""``python -m gin_core.training``: see :mod:`gin_core.training.cli`."""

from .cli import main

main()
