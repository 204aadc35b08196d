#!/usr/bin/python3
"""Runs Debian's postfix-mta-sts-resolver (mta-sts-daemon) with its in-memory cache already
holding an MTA-STS enforce policy for bench.example, so every benchmark request is a cache hit
(no DNS or HTTPS: this machine has no network). Its own code runs unchanged; only the cache's
setup() is wrapped to insert the entry, exactly as a successful fetch would have stored it.

usage: mta_sts_primed.py CONFIG.yml   (the config must say cache type internal and a large
                                       cache_grace, so the entry is never considered stale)
"""
import sys
import time

from postfix_mta_sts_resolver import daemon, internal_cache
from postfix_mta_sts_resolver.base_cache import CacheEntry

_original_setup = internal_cache.InternalLRUCache.setup


async def _primed_setup(self):
    await _original_setup(self)
    await self.set("bench.example", CacheEntry(time.time(), "20240101", {
        "version": "STSv1",
        "mode": "enforce",
        "mx": ["mx.bench.example"],
        "max_age": 86400,
    }))


internal_cache.InternalLRUCache.setup = _primed_setup
sys.argv = ["mta-sts-daemon", "-c", sys.argv[1], "-v", "warn"]
daemon.main()
