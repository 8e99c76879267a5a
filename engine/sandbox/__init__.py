"""The script sandbox: every condition, script, timer expression and DMN cell of a process
definition runs here, under the limits in ``guards``."""
