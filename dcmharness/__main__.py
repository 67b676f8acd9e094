import sys

from dcmharness.interface.cli.main import main

sys.exit(main())
