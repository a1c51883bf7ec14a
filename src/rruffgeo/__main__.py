import sys

from rruffgeo.cli import main

sys.exit(main())
