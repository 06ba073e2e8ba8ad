"""``job=<id>`` on every log line written while a generation is being handled.

When four generations run at once their log lines interleave; the id on each line is
what lets an owner follow one member's request from acceptance to delivery with
``grep job=42``. The id lives in a context variable, so it follows the work into
every coroutine and task started inside the block, and no function has to pass it
along::

    with job_context(generation_id):
        ...  # every log line from here, in any module, carries job=<generation_id>

The filter is installed on the log *handlers* (``install_job_ids``), because a filter
on a logger would not see records from other loggers that propagate to the root.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current_job: ContextVar[str | None] = ContextVar("imagine_bot_job", default=None)


@contextmanager
def job_context(job_id: int | str) -> Iterator[None]:
    """Tag log lines with ``job=<job_id>`` inside the block (and tasks created in it)."""
    token = _current_job.set(str(job_id))
    try:
        yield
    finally:
        _current_job.reset(token)


def current_job() -> str | None:
    return _current_job.get()


class JobIdFilter(logging.Filter):
    """Prefix the message with ``job=<id>`` when a job is current; never drops a record.

    Works with any formatter (discord.py's coloured one included) because it changes
    the message, not the format string. ``record.job`` is set either way (``-`` when
    there is none) for formatters that want the field on its own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_job_tagged", False):  # another handler's filter got here first
            return True
        record._job_tagged = True
        job = _current_job.get()
        record.job = job or "-"
        if job is not None:
            record.msg, record.args = f"job={job} {record.getMessage()}", None
        return True


def install_job_ids(handlers: Iterable[logging.Handler] | None = None) -> None:
    """Add the filter to ``handlers`` (default: the root logger's) once each."""
    targets = list(logging.getLogger().handlers if handlers is None else handlers)
    for handler in targets:
        if not any(isinstance(f, JobIdFilter) for f in handler.filters):
            handler.addFilter(JobIdFilter())
