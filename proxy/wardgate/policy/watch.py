"""Reload the policy bundle when its files change."""

from __future__ import annotations

import logging
from pathlib import Path

import watchfiles

from wardgate.policy.engine import PolicyEngine

__all__ = ["watch_bundle"]

logger = logging.getLogger(__name__)


def _is_policy_file(change: watchfiles.Change, path: str) -> bool:
    return path.endswith((".rego", ".json"))


async def watch_bundle(engine: PolicyEngine, root: Path) -> None:
    """Run until cancelled; each batch of changes (debounced by watchfiles) triggers one reload."""
    async for _changes in watchfiles.awatch(root, watch_filter=_is_policy_file, debounce=200):
        logger.info("policy files changed under %s", root)
        try:
            await engine.reload()
        except Exception:  # a reload's own fault must not end the watcher: later edits would never load
            logger.exception("policy reload failed; still serving revision %s", engine.revision)
