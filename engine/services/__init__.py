"""Use cases: one function per thing a person does, each owning exactly one transaction."""
