"""The example app (see ../README.md)."""
