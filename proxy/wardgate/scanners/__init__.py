"""Scanners: one module each, listed here explicitly."""

from __future__ import annotations

from wardgate.config import ScannerSettings
from wardgate.scanners.base import Scanner
from wardgate.scanners.secrets import SecretsScanner

__all__ = ["Scanner", "SecretsScanner", "build_scanners"]


def build_scanners(settings: ScannerSettings) -> list[Scanner]:
    scanners: list[Scanner] = []
    if settings.secrets.enabled:
        scanners.append(SecretsScanner.from_file(settings.secrets.rules))
    return scanners
