"""ndgrad.utils: as torch.utils, the home of ``data`` (Dataset, DataLoader) and ``hooks``.

``import ndgrad`` imports ``ndgrad.utils.data``; this package itself imports nothing, so that
``ndgrad.utils.hooks`` can be used by the Tensor class that ``data`` builds on.
"""
