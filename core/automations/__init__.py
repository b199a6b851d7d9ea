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
- ``actions``: what grant, extend, revoke, notify_staff and webhook steps do, through the
  core's own paths, audited as ``automation:<code>``.
- ``jobs``: the passes the sweeps and the runner make: events into runs, order and access
  scans (``order_unpaid``, ``access_ending``), due runs, webhook calls.
- ``staff``: for the staff's screens: ``overview``, ``runs_of``, ``pause`` / ``resume``,
  ``preview`` (the dry run).
- ``webhooks``: the signed JSON calls to the school's own systems, sent with retries.
- ``runner``: ``AutomationRunner``, the loop that runs due work as soon as it is woken.

Around it: ``core.school_file.automation_items`` / ``automation_checks`` read and check the
section (the grammar is in the first's docstring and in school.example.yaml);
``flows.automations`` is the conversation's side (answer buttons ``aa:<run>:<question>:<value>``,
typed text through the router's ``before_fallback``, /start); ``flows.automation_notices``
renders the two outbox kinds (``automation_screen``, ``automation_staff``); ``app.sweeps``
schedules ``jobs.sweep`` and ``webhooks.send_due``; ``app.bootstrap`` wires the runner.

For the staff's chat side (``/automations`` in ``flows.automation_staff``, worded by
``flows.automation_words``; the runs on the student card): ``staff.overview``,
``staff.overview_of``, ``staff.runs_of``, ``staff.pause`` / ``staff.resume``,
``staff.preview`` and
``engine.start_by_hand``, each in the command's unit of work, guarded and audited by
``flows.staff.staff_only(Right.AUTOMATIONS, ...)``; a run started or resumed there is due at
once: set ``ctx.queued`` so the engine moves it on after the commit.
"""
