"""The deployment page's live log pane: the stream's events as HTML fragments for htmx.

The page's pane (``sse-swap="message"``, ``hx-swap="beforeend"``) appends each line event's
``data`` as it comes; the ``end`` event's sentence fills the pane's end note and closes the
stream (``sse-close="end"``), and the summary and timeline fetch themselves again on it. The
lines already stored are drawn into the page itself, so it shows them without JavaScript.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from contracts import DeploymentLogEnd, DeploymentLogLineView


def _one_line(html: str) -> str:
    # An SSE data field ends at a newline: keep the fragment on one line (text newlines
    # become character references, which the browser shows as the same newlines).
    # (str first: Markup.replace would escape the references it puts in)
    return str(html).replace("\r", "&#13;").replace("\n", "&#10;")


def line_item(line: DeploymentLogLineView) -> Markup:
    """One log line as a list item, classed by its stream (``stdout``, ``stderr``, ``agent``)."""
    return Markup('<li id="line-{}" class="{}">{}</li>').format(
        line.id, str(line.stream), escape(line.line)
    )


def end_sentence(end: DeploymentLogEnd) -> Markup:
    """What the end of the log says: how the task and the deployment ended."""
    parts = []
    if end.task_status is not None:
        parts.append(Markup("the agent's task ended <strong>{}</strong>").format(end.task_status))
    if end.deployment_status is not None:
        parts.append(Markup("the deployment is <strong>{}</strong>").format(end.deployment_status))
    if not parts:
        return Markup("Finished.")
    return Markup("Finished: {}.").format(Markup(", ").join(parts))


def line_event(line: DeploymentLogLineView) -> str:
    """A line's SSE event: its id (to resume after) and its list item."""
    return f"id: {line.id}\ndata: {_one_line(line_item(line))}\n\n"


def end_event(end: DeploymentLogEnd) -> str:
    """The final SSE event, named ``end``: the closing sentence."""
    return f"event: end\ndata: {_one_line(end_sentence(end))}\n\n"
