"""The outbox: side effects as rows written with the change that causes them, published after it.

- ``messages``: which task (and arguments) each side effect is: the deadline task, the
  notifications of the newly eligible, the verdict webhook, a review's or a checkpoint's
  announcement.
- ``store``: ``record`` writes them in the caller's transaction and dispatches them after its
  commit; ``perform_once`` lets a task do its effect once however often it is delivered;
  ``backlog`` is what health and metrics read.
- ``relay``: publishing (after commit, in a background thread of the process, or inline) and
  the periodic relay that publishes whatever was not (broker down, process killed).
"""
