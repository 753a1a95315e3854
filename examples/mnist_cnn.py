"""MNIST with a small CNN (two conv blocks with BatchNorm), plain PyTorch code on ndgrad.

Replace ``import ndgrad as torch`` by ``import torch`` and the same file trains on PyTorch: only
``load_mnist`` reaches for ndgrad (its dataset reader finds the IDX files; a PyTorch project
would use torchvision.datasets.MNIST there).

    python examples/mnist_cnn.py                 # 4 epochs, about 99.3% test accuracy
    python examples/mnist_cnn.py --epochs 1 --limit 5000
"""

import argparse
import time

import ndgrad as torch

nn = torch.nn
F = torch.nn.functional


def load_mnist(train, limit=None):
    """MNIST as a TensorDataset of normalised (N, 1, 28, 28) images and int64 labels."""
    from ndgrad.datasets import MNIST  # looks in $NDGRAD_DATA, else downloads

    ds = MNIST(train=train)
    images = torch.from_numpy(ds.data.numpy()[:limit]).float() / 255
    labels = torch.from_numpy(ds.targets.numpy()[:limit])
    images = (images - 0.1307) / 0.3081  # the training set's mean and std
    return torch.utils.data.TensorDataset(images.unsqueeze(1), labels)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # (N, 16, 14, 14)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)  # (N, 32, 7, 7)
        x = self.dropout(torch.flatten(x, 1))
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)  # logits (N, 10)


def train(model, loader, optimizer, scheduler):
    model.train()
    total = 0.0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item()
    return total / len(loader)


def test(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
    return correct / len(loader.dataset)


def main():
    parser = argparse.ArgumentParser(description="MNIST CNN")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak of the one-cycle schedule")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use the first N train images")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    train_set, test_set = load_mnist(True, args.limit), load_mnist(False)
    generator = torch.Generator().manual_seed(args.seed)  # reproducible shuffling
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size,
                                               shuffle=True, generator=generator)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=256)  # im2col memory

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr,
                                                    epochs=args.epochs,
                                                    steps_per_epoch=len(train_loader))
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss = train(model, train_loader, optimizer, scheduler)
        accuracy = test(model, test_loader)
        print(f"epoch {epoch}: train loss {loss:.4f}, test accuracy {accuracy:.4f} "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"test_accuracy={accuracy:.4f}")


if __name__ == "__main__":
    main()
