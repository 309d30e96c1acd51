"""fate-pulumi: deploy a FATE party, exchange or FATE-Serving cluster from the stack's `fate:*` config."""

from stacks.program import main

main()
