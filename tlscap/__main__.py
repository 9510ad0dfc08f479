from tlscap.cli import main

raise SystemExit(main())
