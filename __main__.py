"""fate-pulumi: deploy a FATE party, exchange or FATE-Serving cluster from the stack's `fate:*` config."""

from stacks.program import main, stop_quietly_on_interrupt

# here, not in main(): the unit tests run main() in pytest's own process, whose Ctrl-C must stay its own
stop_quietly_on_interrupt()
main()
