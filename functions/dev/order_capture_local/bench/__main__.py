"""``python -m order_capture_local.bench``."""

from order_capture_local.bench.main import main

raise SystemExit(main())
