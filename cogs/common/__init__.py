"""Helpers shared by the cogs: every user-facing message, and the generation flow."""
