"""The WrkTalk deployment agent: polls the customer backend and runs Helm, Compose or GitOps.

Modules: ``cli`` (the ``wrktalk-agent`` command), ``settings``, ``agent`` (the poll loop),
``execution`` (one task from claim to report), ``backend`` (the backend's agent API),
``downloads`` (verified downloads and secure cleanup), ``commands`` (the one command runner),
``heartbeat``, ``task_log`` (output sent in batches), ``maintenance``, ``control`` (stop
signals), ``checks`` (``wrktalk-agent check``), ``errors``, and ``executors`` (Helm, Compose,
GitOps behind one interface).
"""
