"""Worker processes for a batch: a few forked processes that each run one task at a time.

Each worker is forked from this process (the libraries already imported) and
then serves task after task, so a plate costs no fork and no re-import: the
task (a function known before the worker was forked, and its arguments) goes
to an idle worker through a pipe, and its answer comes back pickled through
another. A worker that dies (killed, out of memory, aborted by a library)
makes only the task it was running raise :class:`WorkerDied`; it is replaced
and the other tasks go on. Workers die with their parent (``PR_SET_PDEATHSIG``
on Linux, and a check that the parent is still the one that forked them), and
:meth:`Workers.stop` (called when the batch ends, is interrupted or fails)
kills them all.
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

_SIZE = 8  # each message on a pipe: its length in 8 bytes, then the pickle


class WorkerDied(Exception):
    """A worker process ended without an answer (a signal or an abrupt exit)."""


class Task:
    """One call run in a worker; ``done()`` and ``result()`` as a future's."""

    def __init__(self, pool: Workers, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.pool, self.fn, self.args = pool, fn, args
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


class _Worker:
    """The parent's end of one worker: its pid, its pipes, the task it runs."""

    def __init__(self, pid: int, send: int, answers: int, known: int) -> None:
        self.pid, self.send, self.answers, self.known = pid, send, answers, known
        self.task: Task | None = None
        self.data = bytearray()


def _read_exactly(fd: int, n: int) -> bytes:
    """``n`` bytes from a blocking pipe; fewer only at its end."""
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _message(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_SIZE, "little") + data


class Workers:
    """At most ``n`` forked workers, each running one task at a time, kept for the next."""

    def __init__(self, n: int) -> None:
        self.n = max(1, n)
        self.queue: deque[Task] = deque()
        self.workers: dict[int, _Worker] = {}  # by the answers pipe's fd
        self.functions: list[Callable[..., Any]] = []  # a task names its function by index
        self.selector = selectors.DefaultSelector()
        self.parent = os.getpid()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        """Queue ``fn(*args)``; it starts when a worker is free."""
        if not any(fn is known for known in self.functions):
            self.functions.append(fn)  # workers forked before it are replaced when idle
        task = Task(self, fn, args)
        self.queue.append(task)
        self._start()
        return task

    def _start(self) -> None:
        for worker in list(self.workers.values()):
            if worker.task is None and worker.known < len(self.functions):
                self._retire(worker)
        while self.queue:
            idle = next((w for w in self.workers.values() if w.task is None), None)
            if idle is None:
                if len(self.workers) >= self.n:
                    return
                idle = self._fork()
            task = self.queue.popleft()
            index = next(i for i, fn in enumerate(self.functions) if fn is task.fn)
            try:
                message = _message((index, task.args))
            except Exception as err:  # arguments that cannot reach a worker: the task's error
                task.finished, task.outcome = True, ("error", _portable(err))
                continue
            idle.task = task
            try:
                _write_all(idle.send, message)
            except OSError:  # the worker died: its end of the pipe is gone
                self._reap(idle)

    def _fork(self) -> _Worker:
        tasks_r, tasks_w = os.pipe()
        answers_r, answers_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(tasks_w)
            os.close(answers_r)
            for other in self.workers.values():  # the other workers' pipes are not its own
                os.close(other.send)
                os.close(other.answers)
            _pdeathsig()
            if os.getppid() != self.parent:
                os._exit(1)  # the parent died before the signal was asked for
            self._serve(tasks_r, answers_w)
        os.close(tasks_r)
        os.close(answers_w)
        os.set_blocking(answers_r, False)
        worker = _Worker(pid, tasks_w, answers_r, len(self.functions))
        self.workers[answers_r] = worker
        self.selector.register(answers_r, selectors.EVENT_READ, worker)
        return worker

    def _serve(self, tasks: int, answers: int) -> None:
        """The worker's life: run each task that arrives and send its answer; never returns."""
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            import faulthandler

            faulthandler.disable()  # a worker's death is the parent's one line, not a dump
            while True:
                head = _read_exactly(tasks, _SIZE)
                if len(head) < _SIZE:
                    return  # the parent closed the pipe: no more tasks
                index, args = pickle.loads(_read_exactly(tasks, int.from_bytes(head, "little")))
                try:
                    answer: tuple[str, Any] = ("ok", self.functions[index](*args))
                    message = _message(answer)
                except Exception as err:  # returned to the parent, which decides
                    message = _message(("error", _portable(err)))
                _write_all(answers, message)
        finally:
            os._exit(0)

    def pump(self, block: bool) -> None:
        """Collect what the workers sent; replace those that died; start queued tasks."""
        busy = any(w.task is not None for w in self.workers.values())
        if not busy:
            self._start()
            if not any(w.task is not None for w in self.workers.values()):
                return
        for key, _ in self.selector.select(timeout=None if block else 0):
            worker: _Worker = key.data
            while True:
                try:
                    chunk = os.read(worker.answers, 1 << 20)
                except BlockingIOError:
                    break
                if not chunk:
                    self._reap(worker)
                    break
                worker.data += chunk
                self._answered(worker)
        self._start()

    def _answered(self, worker: _Worker) -> None:
        """Finish the worker's task once its whole answer has arrived."""
        if len(worker.data) < _SIZE:
            return
        size = int.from_bytes(worker.data[:_SIZE], "little")
        if len(worker.data) < _SIZE + size or worker.task is None:
            return
        task, worker.task = worker.task, None
        task.outcome = pickle.loads(bytes(worker.data[_SIZE : _SIZE + size]))
        task.finished = True
        worker.data = worker.data[_SIZE + size :]

    def _reap(self, worker: _Worker) -> None:
        """A worker that ended: its task, if any, died with it."""
        self.selector.unregister(worker.answers)
        os.close(worker.answers)
        with contextlib.suppress(OSError):
            os.close(worker.send)
        del self.workers[worker.answers]
        _, status = os.waitpid(worker.pid, 0)
        if worker.task is not None:
            worker.task.finished = True
            worker.task.outcome = ("error", WorkerDied(_death(status)))

    def _retire(self, worker: _Worker) -> None:
        """An idle worker ended (it was forked before a function it would need)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
        self._reap(worker)

    def stop(self) -> None:
        """Kill every worker and forget the queued tasks (the batch is over)."""
        self.queue.clear()
        for worker in list(self.workers.values()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
            self._reap(worker)
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
