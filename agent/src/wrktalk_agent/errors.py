"""The agent's errors: what went wrong with a task, with the backend, or with the configuration."""

from __future__ import annotations

from collections.abc import Sequence

from contracts import MAX_ERROR_MESSAGE_LENGTH, TaskResult


class ConfigurationError(Exception):
    """The agent cannot work with its settings (no secret, no gitops repository, ...)."""


class BackendError(Exception):
    """A request to the customer backend did not give a usable answer."""


class BackendUnavailable(BackendError):
    """The backend could not be reached or answered 5xx: worth trying again later."""


class BackendRejected(BackendError):
    """The backend answered 4xx: the request (or the agent's secret) is not acceptable."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class TaskFailure(Exception):
    """A task cannot be completed; reported as ``failed`` with this message.

    ``retryable`` says whether running the task again could succeed; ``result`` is sent with
    the failure when something was restored (``rolledBack``); ``output_tail`` holds the last
    lines of the failing command's stderr.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        result: TaskResult | None = None,
        output_tail: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.result = result
        self.output_tail = list(output_tail)

    def report_text(self) -> str:
        """The message followed by the output tail, cut to what the backend accepts.

        The tail is what explains a failure, so when the whole does not fit its first lines go.
        """
        if not self.output_tail:
            return self.message[:MAX_ERROR_MESSAGE_LENGTH]
        header = self.message[: MAX_ERROR_MESSAGE_LENGTH // 4]
        tail = "\n".join(self.output_tail)
        room = MAX_ERROR_MESSAGE_LENGTH - len(header) - 1
        if len(tail) > room:
            tail = tail[len(tail) - room :]
        return f"{header}\n{tail}"


class ChecksumMismatch(TaskFailure):
    """A downloaded file does not have the SHA256 the task names."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class BundleRejected(TaskFailure):
    """A Compose bundle breaks an extraction rule; nothing of it was used."""

    def __init__(self, message: str) -> None:
        super().__init__(f"compose bundle refused: {message}", retryable=False)


class TaskInterrupted(Exception):
    """The agent was asked to stop (SIGTERM or SIGINT) while ``step`` ran (``started``) or
    before it began."""

    def __init__(self, step: str, *, started: bool = True) -> None:
        self.step = step
        self.started = started
        super().__init__(self.account())

    def account(self) -> str:
        """``agent stopped during <step>`` or ``agent stopped before <step>``."""
        return f"agent stopped {'during' if self.started else 'before'} {self.step}"


class TaskAbandoned(Exception):
    """The backend no longer counts the task as running (timed out or cancelled)."""
