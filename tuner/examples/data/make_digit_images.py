"""Write scikit-learn's 1,797 handwritten digits as 8x8 grayscale PNG files, one folder per class
(digit_images/0 ... digit_images/9), for the image-folder example study (studies/digits_images.yaml).

Deterministic: pixel values 0-16 become 0-255 (x 255 / 16, rounded), files are named by their row in the data set,
so running it again writes the same files. Run from anywhere: python studies/data/make_digit_images.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent / "digit_images"


def main() -> None:
    digits = load_digits()
    for index, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = OUT / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.round(image * 255 / 16).astype("uint8")
        Image.fromarray(pixels, mode="L").save(folder / f"{index:04d}.png", optimize=False)
    print(f"{len(digits.images)} images written to {OUT}")


if __name__ == "__main__":
    main()
