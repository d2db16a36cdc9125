"""One shared TLS context for outgoing HTTPS.

httpx builds a fresh ``SSLContext`` (loading certifi's CA bundle) for every client made without one, which
costs about 20 ms. Necto makes short-lived clients per call (they must not outlive an event loop), so a
quote touching a dozen endpoints paid a quarter of a second in certificate loading alone. An SSLContext
holds no event-loop state, so one context serves every client in the process. Verification is the same
as httpx's default: certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set.
"""

from __future__ import annotations

import functools
import os
import ssl


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("SSL_CERT_FILE")
    capath = os.environ.get("SSL_CERT_DIR")
    if not cafile and not capath:
        import certifi

        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile or None, capath=capath or None)


__all__ = ["default_ssl_context"]
