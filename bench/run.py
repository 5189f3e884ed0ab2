"""One benchmark run: a unique id and label key, a temp dir, and removal of all it made, also on errors."""

from __future__ import annotations

import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.engine import EventTap, Fleet, ensure_image


@dataclass
class Run:
    """What a measurement needs: the fleet, the event tap, a fresh directory for each autoheal."""

    run_id: str
    label_key: str
    workdir: Path
    fleet: Fleet
    tap: EventTap
    quick: bool = False
    _dirs: int = field(default=0, repr=False)

    def fresh_dir(self, name: str) -> Path:
        self._dirs += 1
        path = self.workdir / f"{self._dirs:02d}-{name}"
        path.mkdir(parents=True)
        return path


def _interrupt(signum, frame):  # SIGTERM cleans up like Ctrl-C
    raise KeyboardInterrupt


@contextmanager
def bench_run(quick: bool = False) -> Iterator[Run]:
    ensure_image()
    run_id = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix=f"ahbench-{run_id}-"))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    fleet = Fleet(run_id, f"ahbench-{run_id}", workdir)
    tap = EventTap(run_id)
    try:
        yield Run(run_id, fleet.label_key, workdir, fleet, tap, quick)
    finally:
        tap.close()
        fleet.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
