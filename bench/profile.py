"""Profiles of the autoheal process with py-spy, summarised as text: where its CPU time goes."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:]*)(?::\d+)?\)$")


def _short(frame: str) -> str:
    """`fn (path/to/file.py:12)` -> `fn (to/file.py)`: one entry per function, not per line."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    parts = Path(match["file"]).parts
    return f"{match['fn']} ({'/'.join(parts[-2:])})"


def summarize(raw: str, title: str, top: int = 25) -> str:
    """Own and inclusive samples per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_short(f) for f in stack.split(";") if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"# {title}", f"samples (100 Hz, active threads only): {total}", "", "## own time (top functions)"]
    lines += [f"{100 * c / total:6.1f}%  {f}" for f, c in own.most_common(top)] if total else ["(no samples)"]
    lines += ["", "## inclusive time (top functions)"]
    lines += [f"{100 * c / total:6.1f}%  {f}" for f, c in inclusive.most_common(top)] if total else ["(no samples)"]
    return "\n".join(lines) + "\n"


class Spy:
    """py-spy record attached to a pid until stop(); then the text summary is written to `out`."""

    def __init__(self, pid: int, out: Path, title: str) -> None:
        if not shutil.which("py-spy"):
            raise RuntimeError("py-spy is not installed: pip install py-spy")
        self.out = out
        self.title = title
        self.raw = out.with_suffix(".raw")
        self.proc = subprocess.Popen(
            ["py-spy", "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--format", "raw",
             "-o", str(self.raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )

    def stop(self) -> Path:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        text = self.raw.read_text() if self.raw.exists() else ""
        if not text:
            raise RuntimeError(f"py-spy recorded nothing: {err.strip()[:500]}")
        self.out.write_text(summarize(text, self.title))
        self.raw.unlink()
        print(f"-> {self.out}", flush=True)
        return self.out
