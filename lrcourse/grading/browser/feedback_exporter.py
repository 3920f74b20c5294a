"""The feedback page's exporter: nbconvert's HTMLExporter, its templates compiled once per process, not per page.

nbgrader makes a new exporter for every student's feedback, and each new exporter's Jinja environment parses and
compiles the page's ten templates again: about a fifth of a feedback page's CPU time (a third of a second a
student, measured on chapter 4), paid by every student a grading worker grades. `FeedbackExporter` gives its
environment a bytecode cache kept in the process (`compiled_templates`), so a worker compiles them for its first
student only. Jinja's own check keeps this exact: a template is looked up by its name and file and used only if its
source's checksum is unchanged, and the key here also holds what the compiled code depends on in the environment
(its extensions, filters, tests and async mode), so an edited template or another configuration compiles afresh.
What the page shows is unchanged: the same templates, filters and preprocessors render it.
"""

from __future__ import annotations

import functools

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from nbconvert.exporters import HTMLExporter


class ProcessBytecodeCache(BytecodeCache):
    """Compiled templates in this process's memory, by `get_cache_key` and source checksum (Jinja's `Bucket`)."""

    def __init__(self) -> None:
        self.codes: dict[str, tuple[str, object]] = {}

    def get_bucket(self, environment, name, filename, source) -> Bucket:
        """Jinja's bucket, keyed on the environment's settings too (a compiled template reads them)."""
        settings = (
            environment.is_async,
            tuple(sorted(environment.extensions)),
            tuple(sorted(environment.filters)),
            tuple(sorted(environment.tests)),
        )
        key = self.get_cache_key(f"{name}|{settings}", filename)
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        checksum, code = self.codes.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.codes[bucket.key] = (bucket.checksum, bucket.code)

    def clear(self) -> None:
        self.codes.clear()


@functools.lru_cache(maxsize=1)
def compiled_templates() -> ProcessBytecodeCache:
    """The process's one cache of compiled templates."""
    return ProcessBytecodeCache()


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter (configured by `c.HTMLExporter` as before), with `compiled_templates`."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = compiled_templates()
        return environment
