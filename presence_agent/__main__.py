from presence_agent.cli import main

raise SystemExit(main())
