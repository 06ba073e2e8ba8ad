"""discord.py extensions: thin translators between Discord and the bot core."""
