"""Provisioning fixtures: the shared Chromium page for the technician's page (tests/ui/fixtures.py)."""

from tests.ui.fixtures import chromium, page  # noqa: F401 (fixtures)
