"""What the benchmarks read about a process from /proc (Linux only).

Two CPU clocks, on purpose:

* :func:`cpu_ticks` is ``utime + stime`` from ``/proc/PID/stat``: what ``top``
  and ``ps`` show, and it counts threads that have already exited. Its unit is
  a clock tick (10 ms on Linux), too coarse for a few milliseconds of work.
* :func:`cpu_ns` sums the scheduler's own run time of every live thread
  (``/proc/PID/task/*/schedstat``, nanoseconds). Precise, but a thread that
  exits during the window takes its time with it, so the benchmarks use it
  only over windows in which the agent starts and ends no thread, and report
  both.
"""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    """``utime + stime`` of the whole process, in clock ticks."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int) -> float:
    return cpu_ticks(pid) / CLK_TCK


def cpu_ns(pid: int) -> int:
    """On-CPU nanoseconds of every live thread of ``pid`` (see the module docstring)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue  # the thread ended while we looked
    return total


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it (the keyring helper, a sign-in dialog...)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue
        for task in tasks:
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
    return found


def wakeups(pid: int) -> tuple[int, int]:
    """Voluntary context switches of every live thread of ``pid``'s process tree, and how
    many threads there are: each one is a thread that went to sleep and was woken again.

    A thread that ends takes its count with it, so compare two readings only when the
    thread count (the second value) did not change."""
    total = threads = 0
    for process in tree(pid):
        try:
            tasks = list(Path(f"/proc/{process}/task").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue
        for task in tasks:
            try:
                text = (task / "status").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            for line in text.splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
                    threads += 1
    return total, threads


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` (``VmHWM``, ``VmRSS``...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise KeyError(field)


def thread_count(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "model name":
            return value.strip()
    return "unknown"
