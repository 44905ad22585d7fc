"""Helpers shared by every test folder: synthetic result records (:mod:`.results`), the one tiny
suite (:mod:`.suites`) and small on-disk images and folder datasets (:mod:`.images`). The
fixtures built from them (``suite``, ``syn_baseline``, ``readonly_dir``) are in
``tests/conftest.py``."""
