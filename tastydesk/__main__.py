from tastydesk.cli import main

raise SystemExit(main())
