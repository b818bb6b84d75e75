"""``python -m indunet``: the same as the ``indunet`` command."""

from indunet.cli import main

main()
