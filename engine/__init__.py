"""ServiceFlow's workflow engine: a library the web layer calls, with no web framework in it."""
