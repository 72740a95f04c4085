"""Paired timing for the benchmarks: one long-lived process per side, taking turns in short bursts.

A shared machine's speed drifts by 20-30% over minutes, so two runs timed a minute apart
compare the machine as much as the code. Here each side (minigan, PyTorch, ...) keeps one
process alive; in every round each process in turn times a short burst of each of its
operations while the others wait idle, the order alternating between rounds. A round's ratio
then compares two bursts about a second apart. Used by ``train_step.py`` and ``bench_layers.py``.

The worker's side is ``serve(operations)``; the parent's is ``Worker`` and ``paired_rounds``.
"""
import json
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

PAUSE = 0.2        # s before each burst: OpenBLAS's idle threads spin ~0.1 s after a product


def timed(operation, sync, min_time, min_steps=3):
    """The median ms of at least ``min_steps`` calls and ``min_time`` seconds of calls."""
    times, start = [], time.perf_counter()
    while len(times) < min_steps or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        operation()
        sync()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def status_mb(field):
    """A memory line of /proc/self/status in MB ("VmHWM": peak resident, "VmRSS": resident), or None."""
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb():
    """This process's peak resident memory (VmHWM; ru_maxrss would carry over the parent's peak across exec)."""
    peak = status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(operations, sync=lambda: None):
    """The worker's loop: warm up each of ``operations`` ({name: callable}), say "ready", then answer
    each "time SECONDS" line with {name: median ms of a burst} and a "peak" line with the peak MB."""
    for operation in operations.values():
        timed(operation, sync, 0.0)
    print("ready", flush=True)
    for line in sys.stdin:
        command, *argument = line.split()
        if command == "time":
            answer = {name: timed(op, sync, float(argument[0])) for name, op in operations.items()}
        elif command == "peak":
            answer = peak_mb()
        else:
            sys.exit(f"paired.serve: unknown command {line.strip()!r} (expected 'time SECONDS' or 'peak')")
        print(json.dumps(answer), flush=True)


class Worker:
    """The parent's handle on one worker process, started as ``command`` with ``env``."""

    def __init__(self, label, command, env):
        self.label = label
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.errors, text=True)
        self._answer()                                           # "ready"

    def ask(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return json.loads(self._answer())

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            self.errors.seek(0)
            sys.exit(f"{self.label} worker failed:\n{self.errors.read()}")
        return line

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.errors.close()


def paired_rounds(commands, env, rounds, burst):
    """Start one worker per {label: command}; return {label: [{name: ms} per round]} and {label: peak MB}."""
    workers = []
    try:
        for label, command in commands.items():
            workers.append(Worker(label, command, env))
        times = {w.label: [] for w in workers}
        for r in range(rounds):
            for w in (workers if r % 2 == 0 else workers[::-1]):
                time.sleep(PAUSE)
                times[w.label].append(w.ask(f"time {burst}"))
        return times, {w.label: w.ask("peak") for w in workers}
    finally:
        for w in workers:
            w.close()
