"""ndgrad.nn.functional: stateless layers, activations and losses (PyTorch's torch.nn.functional)."""
