"""The application layer: the ``interest`` command, the HTTP API and page, the demo and the
evaluation. It composes everything below it (``tasks``, ``indexer``, the ``plugin`` core,
``stack``); nothing below imports it (tests/unit/test_layers.py)."""
