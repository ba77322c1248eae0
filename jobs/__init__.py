"""Job functions, one module per job family; pure planning logic kept apart from I/O."""
