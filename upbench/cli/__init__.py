"""The ``upbench`` command line (click + rich)."""
