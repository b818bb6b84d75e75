"""``python -m indunet_device``: the ``indunet-device`` command."""

import sys

from indunet_device.cli import main

sys.exit(main())
