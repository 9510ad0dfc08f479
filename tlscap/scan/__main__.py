"""`python -m tlscap.scan PATH...`: the scan command on its own (the same as `tlscap scan PATH...`)."""

from tlscap.scan.cli_scan import main

raise SystemExit(main())
