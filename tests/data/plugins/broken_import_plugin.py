"""A plugin whose import fails, as one with a missing dependency does."""

import pmo_rules_no_such_dependency  # noqa: F401
