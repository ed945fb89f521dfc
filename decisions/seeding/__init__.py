"""Demo data: the demo integration (the governance demo lives in ``governance.demo``) and a
realistic decision history written in bulk (``seed_history``)."""
