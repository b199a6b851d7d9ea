"""Automations: what the school file's ``automations:`` section declares, and the engine that
runs it. When something happens (a trigger) a *run* starts for the student; it sends screens,
asks questions, waits, branches and acts (grant, extend, tag, webhook ...) step by step.

The modules, and the entry points the rest of the platform calls:

- ``model``: the immutable declaration (``Automation``, ``Trigger``, the step kinds), built by
  ``core.school_file`` and kept in ``School.automations``; ``Path`` helpers name a step.
- ``records``: what is stored (``Run``, ``AutomationEvent``, ``AutomationState``,
  ``WebhookCall``) and the statuses.
- ``events``: ``emit(uow, event, now)``, called by the core's own paths (checkout, payments,
  access, lessons, groups, tags) in their transaction: one row, nothing else happens there.
- ``engine``: ``fire(uow, school, event, now)`` starts the runs an event triggers;
  ``on_start`` / ``on_text`` / ``on_answer`` are what the conversation calls (flows);
  ``start_by_hand`` for staff; ``advance`` runs one claimed run until it waits.
- ``jobs``: the passes the sweeps and the runner make: events into runs, order and access
  scans (``order_unpaid``, ``access_ending``), due runs, webhook calls.
- ``staff``: for the staff's screens: ``overview``, ``runs_of``, ``pause`` / ``resume``,
  ``preview`` (the dry run).
- ``webhooks``: the signed JSON calls to the school's own systems, sent with retries.
- ``runner``: ``AutomationRunner``, the loop that runs due work as soon as it is woken.
"""
