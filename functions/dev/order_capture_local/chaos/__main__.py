import sys

from order_capture_local.chaos.main import main

sys.exit(main())
