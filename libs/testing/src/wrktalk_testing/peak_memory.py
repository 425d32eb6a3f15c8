"""A process's peak resident memory, for tests that a hostile input cannot amplify memory.

Linux keeps the peak (``VmHWM`` in ``/proc/<pid>/status``) for each address space, and lets
the owner of a process reset it (``5`` into ``/proc/<pid>/clear_refs``), so one long-running
server can be measured input by input. ``getrusage``'s ``ru_maxrss`` is no substitute for a
child process: it starts from the parent's size at the fork, before the child's own program
runs.
"""

from __future__ import annotations

from pathlib import Path


def _status_kib(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"/proc/{pid}/status has no {field}")


def peak_rss_bytes(pid: int | str = "self") -> int:
    """The highest resident memory of process ``pid`` since it started or was last reset."""
    return _status_kib(pid, "VmHWM") * 1024


def rss_bytes(pid: int | str = "self") -> int:
    """The resident memory of process ``pid`` now."""
    return _status_kib(pid, "VmRSS") * 1024


def reset_peak_rss(pid: int | str = "self") -> None:
    """Start measuring the peak of process ``pid`` again from its present size."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
