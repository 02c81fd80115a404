"""Data Docs page views that compile GX's Jinja templates once per process, not once per page.

GX builds a new ``SiteBuilder``, and with it new views each holding a new Jinja ``Environment``,
on every ``build_data_docs`` call. Each environment parses and compiles the fifty-odd templates
of a validation page, the suite page and the index again: about 0.35 s of the 0.45 s a gate
spends on its Data Docs. These views are GX's own, with one shared in-memory bytecode cache set
on their environment, which Jinja consults before compiling (the template source is checksummed,
so an edited template is compiled again). The site config in ``gx_runner`` names them; GX
imports this module only when it builds Data Docs, after great_expectations is loaded.
"""

from __future__ import annotations

import threading

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache


class _MemoryBytecodeCache(BytecodeCache):
    """Jinja bytecode kept in a dict for the life of the process (the templates are GX's files)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        with self._lock:
            self._code[bucket.key] = bucket.bytecode_to_string()


_CACHE = _MemoryBytecodeCache()


class _SharedTemplateCache:
    """Sets the shared cache on the environment GX's view built in its ``__init__``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _CACHE


class CachedPageView(_SharedTemplateCache, DefaultJinjaPageView):
    """GX's validation and suite page view, with the shared template cache."""


class CachedIndexPageView(_SharedTemplateCache, DefaultJinjaIndexPageView):
    """GX's index page view, with the shared template cache."""
