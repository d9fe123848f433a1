from data_access.cli import main

raise SystemExit(main())
