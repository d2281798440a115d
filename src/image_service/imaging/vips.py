"""libvips for the whole process, set up once: every use of pyvips in the service imports it here.

libvips runs with its operation cache off: renditions never repeat an operation on the same
pixels, and the cache would only keep decoded images alive after a burst (measured: 23 MB left
resident after six renditions with the default cache, 11 MB without). Each rendition runs on one
libvips thread: on 2 cores a second thread per operation gained nothing measurable, alone or
under two concurrent renditions (decoding is sequential), and one thread per rendition leaves the
other core to the next request. (Set here, not from libvips' own VIPS_CONCURRENCY: the service
reads only the settings it documents.)

Loaders libvips marks untrusted (ImageMagick, PDF, matrix, ...) are blocked: an original passed
the upload gate as JPEG, PNG, GIF, WebP or AVIF, and a file that also parses as something else
must never reach another loader. libvips' informational messages (one per operation, logged by
pyvips at INFO) stay out of the service's log.
"""

from __future__ import annotations

import logging

import pyvips

__all__ = ["pyvips"]

pyvips.cache_set_max(0)
pyvips.concurrency_set(1)
pyvips.block_untrusted_set(True)
logging.getLogger("pyvips").setLevel(logging.WARNING)
