"""SIGINT, SIGTERM and SIGHUP during a command that writes files.

* :func:`interruptible`: the signal raises :class:`Interrupted` in the main thread, so the stack
  unwinds and every temporary output is removed on the way out (SIGTERM would otherwise end the
  process on the spot and leave them behind).
* :func:`deferred`: a block the signal does not cut in two (the renames that put a group of
  outputs in place): :class:`Interrupted` is raised when it ends.
* :class:`ChildProcess`: a child in a process group of its own, to which the signal is forwarded;
  the child is also sent SIGTERM should this process die without forwarding (Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading

#: the signals that stop a run: Ctrl-C, kill, the terminal closing (the JVM's shutdown signals too)
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: prctl(2) option: the signal the kernel sends a process when its parent dies
_PR_SET_PDEATHSIG = 1


class Interrupted(BaseException):
    """A run stopped by a signal. A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way up swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        """128 + the signal number, what a shell reports for a process the signal ended (130 for SIGINT)."""
        return 128 + self.signum

    def __str__(self) -> str:
        return f"interrupted by {self.name}"


class _State(threading.local):
    depth = 0          # nesting of deferred() blocks
    pending = None     # a signal received inside one


_state = _State()


def _in_main_thread() -> bool:
    # signal handlers can only be installed (and only run) in the main thread
    return threading.current_thread() is threading.main_thread()


def _raise(signum, frame):
    if _state.depth:
        _state.pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def _handlers(handler):
    if not _in_main_thread():
        yield
        return
    # a handler installed outside Python (a JVM started in this process through JPype) cannot be
    # put back once replaced: such a signal is left alone
    previous = {s: signal.signal(s, handler) for s in HANDLED if signal.getsignal(s) is not None}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def interruptible():
    """Within the block, the :data:`HANDLED` signals raise :class:`Interrupted` (the previous handlers are
    restored after it). Outside the main thread a no-op."""
    with _handlers(_raise):
        yield


@contextlib.contextmanager
def deferred():
    """A signal received within the block raises :class:`Interrupted` only when the block ends."""
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0 and _state.pending is not None:
            signum, _state.pending = _state.pending, None
            raise Interrupted(signum)


def _child_setup():
    """In the child between fork and exec: a process group of its own (the terminal's Ctrl-C reaches
    only the parent, which forwards it once), and SIGTERM when the parent dies."""
    os.setpgid(0, 0)
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


# resolved before any fork: the child must not load libraries between fork and exec
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


class ChildProcess:
    """A child process to which the :data:`HANDLED` signals are forwarded (to its process group) while the
    ``with`` block runs, instead of interrupting this process. ``signal``: the first signal
    forwarded, None if none was."""

    def __init__(self, cmd: list[str]):
        self.cmd = cmd
        self.proc: subprocess.Popen | None = None
        self.signal: int | None = None

    def _forward(self, signum, frame):
        if self.signal is None:
            self.signal = signum
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signum)

    def __enter__(self) -> "ChildProcess":
        # the handler is in place before the child starts: no signal can slip between the two
        self._restore = _handlers(self._forward)
        self._restore.__enter__()
        try:
            self.proc = subprocess.Popen(self.cmd, preexec_fn=_child_setup)
        except BaseException:
            self._restore.__exit__(*sys.exc_info())
            raise
        if self.signal is not None:
            self._forward(self.signal, None)
        return self

    def wait(self) -> int:
        """The child's exit status (negative: ended by that signal)."""
        return self.proc.wait()

    def __exit__(self, *exc) -> None:
        try:
            if self.proc.poll() is None:
                # leaving early (an exception here): the child does not outlive the block
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait()
        finally:
            self._restore.__exit__(*exc)
