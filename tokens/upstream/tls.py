"""One TLS context for every upstream client of the process.

Building a context (loading the CA bundle) costs tens of milliseconds; a run creates its clients
when it starts, and that time would come before its first batch.
"""

import ssl

import certifi

SHARED_CONTEXT = ssl.create_default_context(cafile=certifi.where())
