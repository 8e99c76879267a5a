"""Time: the engine clock, timers a case waits on, and the schedules of timer-started processes."""
