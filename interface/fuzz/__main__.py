"""``python -m dcmharness.interface.fuzz``: the fuzzer's command line (``runner.main``)."""

import sys

from dcmharness.interface.fuzz.runner import main

sys.exit(main())
