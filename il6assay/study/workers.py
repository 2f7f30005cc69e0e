"""Worker processes for a batch: one forked process per task, so one death costs one plate.

A task runs in a child forked from this process (the libraries already
imported); its answer comes back pickled through a pipe. A child that dies
(killed, out of memory, aborted by a library) makes only its own task's
``result()`` raise :class:`WorkerDied`; the other tasks go on. Children die
with their parent (``PR_SET_PDEATHSIG`` on Linux, and a check that the
parent is still the one that forked them), and :meth:`Workers.stop` (called
when the batch ends, is interrupted or fails) kills any still running.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any


class WorkerDied(Exception):
    """A worker process ended without an answer (a signal or an abrupt exit)."""


class Task:
    """One call run in a worker; ``done()`` and ``result()`` as a future's."""

    def __init__(self, pool: Workers, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.pool, self.fn, self.args = pool, fn, args
        self.pid = 0
        self.fd = -1
        self.data = bytearray()
        self.finished = False
        self.outcome: tuple[str, Any] = ("", None)

    def done(self) -> bool:
        """Whether the task has finished (answers arrived so far are collected first)."""
        if not self.finished:
            self.pool.pump(block=False)
        return self.finished

    def result(self) -> Any:
        """The call's return value; its exception re-raised; WorkerDied if the worker died."""
        while not self.finished:
            self.pool.pump(block=True)
        kind, value = self.outcome
        if kind == "ok":
            return value
        raise value


def _pdeathsig() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (nothing elsewhere)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


class Workers:
    """At most ``n`` forked workers at a time, each running one task."""

    def __init__(self, n: int) -> None:
        self.n = max(1, n)
        self.queue: deque[Task] = deque()
        self.running: dict[int, Task] = {}  # by pipe fd
        self.selector = selectors.DefaultSelector()
        self.parent = os.getpid()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        """Queue ``fn(*args)``; it starts when a worker is free."""
        task = Task(self, fn, args)
        self.queue.append(task)
        self._start()
        return task

    def _start(self) -> None:
        while self.queue and len(self.running) < self.n:
            task = self.queue.popleft()
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(read)
                _pdeathsig()
                if os.getppid() != self.parent:
                    os._exit(1)  # the parent died before the signal was asked for
                self._child(task, write)
            os.close(write)
            task.pid, task.fd = pid, read
            os.set_blocking(read, False)
            self.running[read] = task
            self.selector.register(read, selectors.EVENT_READ, task)

    @staticmethod
    def _child(task: Task, fd: int) -> None:
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            import faulthandler

            faulthandler.disable()  # a worker's death is the parent's one line, not a dump
            try:
                answer: tuple[str, Any] = ("ok", task.fn(*task.args))
            except Exception as err:  # returned to the parent, which decides
                answer = ("error", _portable(err))
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os._exit(0)

    def pump(self, block: bool) -> None:
        """Collect what the running workers sent; reap those that finished; start queued tasks."""
        if not self.running:
            self._start()
            if not self.running:
                return
        for key, _ in self.selector.select(timeout=None if block else 0):
            task: Task = key.data
            while True:
                try:
                    chunk = os.read(task.fd, 1 << 20)
                except BlockingIOError:
                    break
                if not chunk:
                    self._finish(task)
                    break
                task.data += chunk
        self._start()

    def _finish(self, task: Task) -> None:
        self.selector.unregister(task.fd)
        os.close(task.fd)
        del self.running[task.fd]
        _, status = os.waitpid(task.pid, 0)
        task.finished = True
        try:
            task.outcome = pickle.loads(bytes(task.data)) if task.data else ("", None)
        except Exception:  # a worker killed while writing its answer
            task.outcome = ("", None)
        if task.outcome[0] == "error":
            task.outcome = ("error", task.outcome[1])
        elif task.outcome[0] != "ok":
            task.outcome = ("error", WorkerDied(_death(status)))
        task.data = bytearray()

    def stop(self) -> None:
        """Kill every running worker and forget the queued tasks (the batch is over)."""
        self.queue.clear()
        for task in list(self.running.values()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(task.pid, signal.SIGKILL)
            self.selector.unregister(task.fd)
            os.close(task.fd)
            os.waitpid(task.pid, 0)
        self.running.clear()
        self.selector.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _death(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"its worker process was killed ({name})"
    return f"its worker process ended without an answer (exit {os.WEXITSTATUS(status)})"


def _portable(err: Exception) -> Exception:
    """An exception that survives pickling: InputError as its line, others with a traceback."""
    from il6assay.errors import InputError

    if isinstance(err, InputError):
        return InputError(str(err))
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        return RuntimeError("".join(traceback.format_exception(err)))
