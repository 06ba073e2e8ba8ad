"""Local stand-ins for Discord and the image API, for tests and the offline demo."""
