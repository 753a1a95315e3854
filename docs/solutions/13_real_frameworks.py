"""Chapter 13: a hook that clips a gradient's norm."""

from ndgrad.mini.exercises import check_clip_hook


def clip_hook(max_norm):
    def hook(grad):
        norm = (grad * grad).sum().sqrt()
        if norm.item() > max_norm:
            return grad * (max_norm / norm)
        return None  # None: keep the gradient as it is
    return hook


if __name__ == "__main__":
    check_clip_hook(clip_hook)
    print("ok")
