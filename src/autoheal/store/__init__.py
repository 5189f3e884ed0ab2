"""Durable state: SQLite (or memory) behind one writer thread, with numbered migrations."""

from autoheal.store.db import Database, StoreError
from autoheal.store.state import Store

__all__ = ["Database", "Store", "StoreError"]
