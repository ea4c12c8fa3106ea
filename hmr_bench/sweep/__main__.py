"""`python -m hmr_bench.sweep ARGS` = `hmr-bench sweep ARGS`."""

import sys

from hmr_bench.sweep.cli import main

sys.exit(main())
