from softmining_jax.cli import main

raise SystemExit(main())
