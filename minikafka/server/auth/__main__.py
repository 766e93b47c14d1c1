"""``python -m minikafka.server.auth NAME [MECHANISM]``: print a SCRAM credentials line.

Reads the password (asked for on a terminal, else one line of standard
input) and prints ``NAME:MECHANISM:ITERATIONS:SALT:STORED_KEY:SERVER_KEY``
for MINIKAFKA_SASL_USERS_FILE; SCRAM-SHA-512 unless MECHANISM says otherwise.
"""

import sys

from .credentials import main

sys.exit(main())
