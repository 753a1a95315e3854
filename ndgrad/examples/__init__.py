"""Runnable jobs shipped with ndgrad: ``ndgrad-mnist`` (ndgrad.examples.mnist)."""
