"""imagine-bot: generate images in Discord with FLUX.1 SRPO."""
