"""libvips for the whole process, set up once: every use of pyvips in the service imports it here.

libvips runs with its operation cache off: renditions never repeat an operation on the same
pixels, and the cache would only keep decoded images alive after a burst (measured: 23 MB left
resident after six renditions with the default cache, 11 MB without). Each rendition runs on one
libvips thread (unless VIPS_CONCURRENCY says otherwise): on 2 cores a second thread per operation
gained nothing measurable, alone or under two concurrent renditions (decoding is sequential), and
one thread per rendition leaves the other core to the next request.
"""

from __future__ import annotations

import os

import pyvips

__all__ = ["pyvips"]

pyvips.cache_set_max(0)
if "VIPS_CONCURRENCY" not in os.environ:
    pyvips.concurrency_set(1)
