"""Workflow lifecycle: the state machine and the engine that drives it."""
