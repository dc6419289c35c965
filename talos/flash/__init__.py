"""``konferenco talos flash``: write an OS image to a drive, never the wrong one, never silently bad.

``drives`` decides which drives may be written (from ``lsblk --json``, as a pure function so recorded
outputs of real machines test it), ``source`` opens the image and hashes its decompressed stream, and
``writer`` writes, reads back with the page cache bypassed and reports.
"""
