"""``python -m lumina.testing ARCH PATH``: write a random-weight model (see :mod:`lumina.testing`)."""

from lumina.models.synthetic import main

raise SystemExit(main())
