"""Checks on the PNGs rankladder writes (issue 15): a real image, not blank, with its sidecar JSON beside it."""

from __future__ import annotations

import json
from pathlib import Path


def load_plot(png: Path, min_size: tuple[int, int] = (300, 200)) -> dict:
    """Read ``png`` (size, not blank) and return its sidecar JSON (``<name>.png.json``)."""
    import matplotlib.pyplot as plt

    image = plt.imread(png)
    height, width = image.shape[:2]
    assert width >= min_size[0] and height >= min_size[1], f"{png}: {width}×{height} px"
    rgb = image[..., :3]
    assert rgb.std() > 0.05, f"{png}: looks blank"
    assert (rgb < 0.5).mean() > 0.005, f"{png}: almost no dark pixels (no text or axes?)"
    sidecar = png.with_name(png.name + ".json")
    assert sidecar.is_file(), f"{png}: no sidecar {sidecar.name}"
    return json.loads(sidecar.read_text())
