"""Talos machine configuration for a venue box: pinned versions, generation, validation, bundles.

Issue #16 part 1. The research behind every choice is ``shared/research/talos-flashing.md``;
the technician's steps are in ``docs/talos-config.md``.
"""
