"""Programs a user copies; the tests import them from here."""
