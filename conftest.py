"""Root test configuration.

Tests run with ``--import-mode=importlib``, which names a test module after its path
(``gcc/tests/...`` becomes ``gcc.tests...``). Importing the tier packages first keeps the real
``gcc`` and ``customer_backend`` packages in ``sys.modules`` instead of empty placeholders.
"""

import customer_backend
import gcc
import wrktalk_agent

pytest_plugins = ["testsupport.gcc_fixtures", "testsupport.backend_fixtures"]

__all__ = ["customer_backend", "gcc", "wrktalk_agent"]
