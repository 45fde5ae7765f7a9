"""``make bench``: what ``manage.py prodserver`` costs over each server's native command.

Run ``python -m benchmarks`` from the repository root (``--help`` for the options). Every
measurement alternates prodserver (A) and the native command (B) on this machine in one run,
so reports are medians and ratios taken side by side; absolute numbers depend on the machine.
This is a measuring tool, never a test: nothing here asserts a time.
"""
