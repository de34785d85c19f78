"""A backend module that fails as it is imported: for the start-up failure tests of ``serve``."""

raise RuntimeError("this module is broken")
