"""Marquez metadata records (dataset and field tags and descriptions): see ingest/records.py."""

from __future__ import annotations

from ripple.ingest.records import Projector

PROJECTORS: dict[str, Projector] = {}
