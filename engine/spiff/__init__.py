"""How a case *runs* on SpiffWorkflow: the runtime wrapper, its saved state, the task index and
lookups, and the limits, clock and timer gate ServiceFlow puts on the engine."""
