"""ndgrad's console commands: ``ndgrad-mnist`` (ndgrad.cli.mnist)."""
