"""``python -m minikafka``: the same command line as the ``minikafka`` script."""

import sys

from minikafka.cli import main

sys.exit(main())
