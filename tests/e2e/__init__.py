"""End-to-end tests: the real bot against the local Discord and image-API emulators."""
