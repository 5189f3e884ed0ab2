"""Pure healing logic: models, selection, classification and the restart policy."""
