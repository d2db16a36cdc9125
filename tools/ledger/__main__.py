"""``python -m tools.ledger <alembic command>``: the ledger's migrations by hand (see tools.ledger.migrate)."""

from tools.ledger.migrate import main

main()
