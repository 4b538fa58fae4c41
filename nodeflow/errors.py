"""One error hierarchy for the whole engine.

Every message says what went wrong, the offending value, what was expected and, where it
can, how to fix it.  The CLI prints ``str(err)`` on one line; a traceback only with ``--debug``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .executor import RunResult


class NodeflowError(Exception):
    """Root of every error AudioChain raises on purpose."""


class DefinitionError(NodeflowError):
    """A node type is declared wrongly (a bug in a node pack, not a user mistake)."""


class ParameterError(NodeflowError):
    """A parameter value is of the wrong type or out of range."""


class GraphError(NodeflowError):
    """A graph is invalid; ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list[str] | str, source: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            msg = head + self.problems[0]
        else:
            msg = head + f"{len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(msg)


def named(who: str, text: str, type_id: str) -> str:
    """``who: text``, where ``who`` names a node (``dsp.crossfade``, ``node 'x' (dsp.crossfade)``) and
    ``text`` may begin with the node's own name for itself (its type or the last part of it, as a
    node's message names itself when called alone): said once (QA58: ``dsp.crossfade: crossfade:``).

    >>> named("node 'x' (dsp.crossfade)", "crossfade: duration_s=5 exceeds ...", "dsp.crossfade")
    "node 'x' (dsp.crossfade): duration_s=5 exceeds ..."
    """
    for own in (f"{type_id}: ", f"{type_id.rsplit('.', 1)[-1]}: "):
        if text.startswith(own):
            text = text[len(own):]
            break
    return f"{who}: {text}"


class FileFormatError(NodeflowError):
    """A graph file (or bundle) is malformed, too large, hostile or from an unknown format version."""


class AudioError(NodeflowError):
    """Audio data or an audio file cannot be used (missing, empty, corrupt, wrong shape)."""


class ExecutionError(NodeflowError):
    """A node failed while running; ``node_id`` names it and ``__cause__`` keeps the original error."""

    def __init__(self, node_id: str, message: str):
        self.node_id = node_id
        super().__init__(f"node '{node_id}': {message}")


class ExportsFailed(ExecutionError):
    """Side-effect nodes (exports) failed while the rest of the run went on: ``failures`` holds each
    one's :class:`ExecutionError`, ``result`` the :class:`~nodeflow.executor.RunResult` of everything
    that did run (the other exports were written)."""

    def __init__(self, failures: list[ExecutionError], result: RunResult | None = None):
        self.failures, self.result = list(failures), result
        first = self.failures[0]
        self.node_id = first.node_id
        more = f" (and {len(self.failures) - 1} more export(s) failed)" if len(self.failures) > 1 else ""
        NodeflowError.__init__(self, str(first) + more)
        self.__cause__ = first.__cause__


class ValueProblem(str):
    """A preflight problem with a parameter's value against its checkpoint (a language it lacks), not
    with the checkpoint folder itself: a folder picked for the node is not refused for it."""


class AudioChainWarning(UserWarning):
    """What a node says of its result that is not an error (:meth:`Context.warn
    <nodeflow.node.Context.warn>`), as a Python warning where no run listens (a node called directly)."""


class Cancelled(NodeflowError):
    """The run was cancelled; raised inside nodes by ``ctx.check_cancelled()``.

    Raised by a run, ``result`` is the :class:`~nodeflow.executor.RunResult` of what finished
    before it stopped (``ran``, ``cached``, outputs such as the files exports wrote)."""

    result: RunResult | None = None


def install_hint(*extras: str) -> str:
    """The one way every missing-package error says to install an optional extra: from the checkout,
    since AudioChain is not published on a package index (QA73 D12: some errors said
    ``pip install 'audiochain[tempo]'``, which no index can resolve, others both forms)."""
    return f"pip install -e '.[{','.join(extras)}]' (run in the AudioChain folder)"


def size_limit_words() -> str:
    """What this process's file size limit (``ulimit -f``) means and its fix; '' without one."""
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):      # (no resource module on Windows)
        return ""
    if limit == resource.RLIM_INFINITY:
        return ""
    return f"the file reached this process's file size limit ({limit:,} bytes, `ulimit -f`); raise the limit"


def os_error_words(e: OSError, fix: str = "", reading: bool = False) -> str:
    """A user's words for an OSError, with what to do (a full disk, a read-only folder, a lost
    connection: not the same fix); ``fix`` follows an error this does not know.  ``reading``: the
    error came reading a file (a permission is then the file's, not a folder's to write to).

    >>> import errno
    >>> os_error_words(OSError(errno.ENOSPC, "No space left on device"))
    'the disk is full; free some space or choose another folder'
    >>> os_error_words(PermissionError(errno.EACCES, "Permission denied"), reading=True)
    'permission denied; make it readable (chmod a+r) or ask its owner'
    >>> os_error_words(TimeoutError("timed out after 5 s"))
    'timed out after 5 s; try again'
    """
    import errno
    hint = {errno.ENOSPC: "the disk is full; free some space or choose another folder",
            errno.EDQUOT: "the disk quota is used up; free some space or choose another folder",
            errno.EROFS: "the folder is on a read-only file system; choose another folder",
            errno.EACCES: "permission denied; choose a folder you can write to",
            errno.EPERM: "operation not permitted; choose a folder you can write to",
            errno.ENOENT: "a file or folder vanished while it was being used; try again",
            errno.ELOOP: "a link is in the way; AudioChain never follows links here",
            errno.ENAMETOOLONG: "a name or the path is longer than the file system takes; choose a shorter path",
            errno.EISDIR: "it is a folder; give the name of a file in it",
            }.get(e.errno or 0)
    if e.errno == errno.EFBIG:
        hint = size_limit_words() or "the file is larger than this file system takes; choose another folder"
    if reading and e.errno in (errno.EACCES, errno.EPERM):     # (QA44: pack said "choose a folder you can
        hint = "permission denied; make it readable (chmod a+r) or ask its owner"    # write to" of an input)
    if hint:
        return hint
    what = e.strerror or str(e) or type(e).__name__
    if isinstance(e, ConnectionError):
        return f"{what}; check the network connection and try again"
    if isinstance(e, TimeoutError):
        return f"{what}; try again"
    return f"{what}; {fix}" if fix else what
