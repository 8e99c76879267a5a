"""What a process *is*: its files parsed into a version (catalog, BPMN reading, forms), the checks
a definition must pass, and the clauses it traces to."""
