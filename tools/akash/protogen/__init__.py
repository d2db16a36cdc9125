"""Generated from tools/akash/proto (do not edit; run tools.akash.proto.generate)."""

import cosmpy.protos  # noqa: F401  (puts cosmos.* generated modules on sys.path)
