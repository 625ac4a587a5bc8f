import sys

from voltmesh.cli import main

sys.exit(main())
