"""ndgrad.save / ndgrad.load."""

from ndgrad.serialization._safetensors import load, save
