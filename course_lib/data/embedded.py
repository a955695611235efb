"""Data that ships with installed packages, and the substitutes built from it.

- `digits`: scikit-learn's 8x8 handwritten digits (real, small, embedded).
- `image(name)`: the photographs and textures bundled with scikit-image, scikit-learn and matplotlib.
- `fashion_substitute`: drawn clothing silhouettes with Fashion-MNIST's shapes, dtypes and 10 classes.
- `mnist_substitute`: scikit-learn's digits enlarged to 28x28.
- `cifar_substitute`: 32x32 colour crops of the embedded photographs, one source per class.

Substitutes exist so that every notebook runs without network; they teach nothing
about the real data sets and say so in their `Source`.
"""

from __future__ import annotations

import functools

import numpy as np

from course_lib.data.source import DataError, Source

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

# Every image that scikit-image (>= 0.22) ships inside its wheel; the ones it fetches on first use
# (eagle, lily, kidney, skin, brain, cells3d, ...) need a download and are not listed.
SKIMAGE_IMAGES = ("astronaut", "camera", "coffee", "chelsea", "cat", "rocket", "retina", "hubble_deep_field",
                  "immunohistochemistry", "motorcycle_left", "motorcycle_right",       # photographs
                  "brick", "grass", "gravel",                                          # textures
                  "coins", "moon", "page", "text", "clock", "cell", "microaneurysms",  # greyscale scenes and scans
                  "horse", "logo", "colorwheel", "checkerboard", "shepp_logan_phantom")  # drawn and synthetic
SKLEARN_IMAGES = ("china", "flower")
MATPLOTLIB_IMAGES = ("grace_hopper", "mri")
IMAGE_NAMES = SKIMAGE_IMAGES + SKLEARN_IMAGES + MATPLOTLIB_IMAGES
IMAGE_PACKAGES = {**dict.fromkeys(SKIMAGE_IMAGES, "scikit-image"), **dict.fromkeys(SKLEARN_IMAGES, "scikit-learn"),
                  **dict.fromkeys(MATPLOTLIB_IMAGES, "matplotlib")}


def _to_uint8_rgb_or_grey(arr: np.ndarray) -> np.ndarray:
    """uint8, ``(H, W)`` or ``(H, W, 3)``: booleans become 0/255, floats in [0, 1] are scaled,
    an alpha channel is composited onto white."""
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(np.round(arr * 255), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[-1] == 4:
        alpha = arr[..., 3:].astype(np.float32) / 255
        rgb = arr[..., :3].astype(np.float32) * alpha + 255 * (1 - alpha)
        return np.round(rgb).astype(np.uint8)
    return arr


def _matplotlib_image(name: str) -> np.ndarray:
    from matplotlib import cbook

    if name == "grace_hopper":   # a photograph of Rear Admiral Grace Hopper (Wikimedia Commons)
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB"))
    # mri: a 256x256 slice of a magnetic-resonance brain scan, 16-bit, as in matplotlib's mri demo
    with cbook.get_sample_data("s1045.ima.gz") as f:
        scan = np.frombuffer(f.read(), np.uint16).reshape(256, 256).astype(np.float64)
    return np.round(scan / scan.max() * 255).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _image(name: str) -> np.ndarray:
    if name in SKLEARN_IMAGES:
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    if name in MATPLOTLIB_IMAGES:
        return _matplotlib_image(name)
    import skimage.data

    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _disparity = skimage.data.stereo_motorcycle()
        return left if name == "motorcycle_left" else right
    return _to_uint8_rgb_or_grey(getattr(skimage.data, "chelsea" if name == "cat" else name)())


def image(name: str) -> tuple[np.ndarray, Source]:
    """A named photograph or texture as a uint8 array, ``(H, W)`` or ``(H, W, 3)``; `IMAGE_NAMES` lists them."""
    if name not in IMAGE_NAMES:
        raise DataError(f"unknown image {name!r}; choose one of: {', '.join(IMAGE_NAMES)}")
    arr = _image(name).copy()
    arr.setflags(write=True)
    return arr, Source(name, "embedded", f"{IMAGE_PACKAGES[name]} sample image '{name}'")


def _split_indices(n: int, split: str, test_fraction: float = 0.2, seed: int = 0):
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return order[n_test:] if split == "train" else order[:n_test]


def digits(split: str) -> tuple[np.ndarray, np.ndarray, Source]:
    """scikit-learn's digits: ``x`` (N, 8, 8) uint8 in 0..16, ``y`` (N,) uint8; a fixed 80/20 split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = _split_indices(len(d.target), split)
    x = d.images[idx].astype(np.uint8)
    y = d.target[idx].astype(np.uint8)
    return x, y, Source("digits", "embedded", "scikit-learn load_digits (UCI optical digits, 8x8)")


# --- Fashion-MNIST substitute: silhouettes drawn on a 28x28 grid ---

def _rect(u, v, r0, r1, c0, c1):
    return (u >= r0) & (u < r1) & (v >= c0) & (v < c1)


def _ellipse(u, v, rc, cc, rr, cr):
    return ((u - rc) / rr) ** 2 + ((v - cc) / cr) ** 2 <= 1.0


def _fashion_mask(cls: int, u, v):
    """Boolean mask of one garment class on transformed coordinates `u` (rows), `v` (cols)."""
    torso = _rect(u, v, 6, 25, 8, 20)
    long_sleeves = (_rect(u, v, 6, 22, 3, 8) | _rect(u, v, 6, 22, 20, 25)) & (u >= 6 + 0.3 * np.abs(v - 14) - 2)
    if cls == 0:   # T-shirt: torso and short sleeves
        return torso | _rect(u, v, 6, 12, 3, 25)
    if cls == 1:   # trousers: waist and two legs
        return _rect(u, v, 3, 8, 8, 20) | _rect(u, v, 3, 26, 8, 13) | _rect(u, v, 3, 26, 15, 20)
    if cls == 2:   # pullover: torso and long sleeves
        return torso | long_sleeves
    if cls == 3:   # dress: a trapezoid widening downwards
        half = 3 + (u - 3) * 0.4
        return (u >= 3) & (u < 26) & (np.abs(v - 14) <= half)
    if cls == 4:   # coat: long body, long sleeves, an opening down the middle
        body = _rect(u, v, 4, 27, 7, 21) | long_sleeves
        return body & ~_rect(u, v, 8, 27, 13.5, 14.5)
    if cls == 5:   # sandal: straps over a sole
        sole = _rect(u, v, 19, 22, 3, 25)
        straps = _rect(u, v, 13, 19, 4, 24) & (np.floor(v) % 4 < 1.5)
        return sole | straps
    if cls == 6:   # shirt: torso, long sleeves, a collar cut
        collar = (u < 10) & (np.abs(v - 14) < (10 - u) * 0.6)
        return (torso | long_sleeves) & ~collar
    if cls == 7:   # sneaker: low shoe rising to the heel
        return _rect(u, v, 17, 22, 3, 25) | (_ellipse(u, v, 17, 18, 4, 7) & (u < 20))
    if cls == 8:   # bag: a box with a handle
        box = _rect(u, v, 11, 25, 4, 24)
        ring = _ellipse(u, v, 11, 14, 6, 6) & ~_ellipse(u, v, 11, 14, 4, 4) & (u < 11)
        return box | ring
    if cls == 9:   # ankle boot: a shaft and a foot
        return _rect(u, v, 4, 23, 12, 22) | _rect(u, v, 16, 24, 3, 22)
    raise AssertionError(cls)


def fashion_substitute(split: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, Source]:
    """Drawn stand-in for Fashion-MNIST: ``x`` (n, 28, 28) uint8, ``y`` (n,) uint8, 10 balanced classes."""
    rng = np.random.default_rng((seed, 0 if split == "train" else 1))
    y = np.arange(n) % 10
    rng.shuffle(y)
    rows, cols = np.mgrid[0:28, 0:28].astype(np.float32)
    x = np.zeros((n, 28, 28), np.float32)
    for cls in range(10):
        idx = np.flatnonzero(y == cls)
        k = len(idx)
        if k == 0:
            continue
        scale = rng.uniform(0.85, 1.12, (k, 1, 1))
        dy, dx = rng.uniform(-2, 2, (2, k, 1, 1))
        u = (rows - 14 - dy) / scale + 14
        v = (cols - 14 - dx) / scale + 14
        mask = _fashion_mask(cls, u, v).astype(np.float32)
        shade = rng.uniform(90, 245, (k, 1, 1))
        texture = 1 + 0.25 * np.sin(rows * rng.uniform(0.5, 2.0, (k, 1, 1)) + rng.uniform(0, 6.3, (k, 1, 1)))
        x[idx] = mask * shade * texture
    x += rng.normal(0, 12, x.shape)
    x = np.clip(x, 0, 255).astype(np.uint8)
    return x, y.astype(np.uint8), Source(
        "fashion_mnist", "substitute", f"course_lib drawn silhouettes (seed={seed})",
        note="not Fashion-MNIST: a stand-in with the same shapes, dtypes and classes")


def mnist_substitute(split: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, Source]:
    """scikit-learn's digits enlarged to 28x28 and shifted: ``x`` (n, 28, 28) uint8, ``y`` (n,) uint8."""
    from skimage.transform import resize

    base_x, base_y, _ = digits(split)
    rng = np.random.default_rng((seed, 2 if split == "train" else 3))
    pick = rng.integers(0, len(base_y), n)
    big = resize(base_x.astype(np.float32) / 16.0, (len(base_x), 20, 20), order=1, anti_aliasing=False)
    x = np.zeros((n, 28, 28), np.float32)
    shifts = rng.integers(-2, 3, (n, 2))
    for i, (j, (dy, dx)) in enumerate(zip(pick, shifts)):
        x[i, 4 + dy:24 + dy, 4 + dx:24 + dx] = big[j]
    x = np.clip(x * 255, 0, 255).astype(np.uint8)
    return x, base_y[pick].astype(np.uint8), Source(
        "mnist", "substitute", f"scikit-learn digits enlarged to 28x28 (seed={seed})",
        note="not MNIST: 8x8 digits enlarged")


_CIFAR_SOURCES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
                  "immunohistochemistry", "colorwheel", "china", "flower", "brick")


def cifar_substitute(split: str, n: int, num_classes: int = 10, seed: int = 0):
    """32x32 colour crops of embedded photographs: class k is photograph k mod 10, with a
    channel permutation and rotation that depend on k // 10 (so 100 classes stay distinct)."""
    from skimage.transform import resize

    rng = np.random.default_rng((seed, num_classes, 0 if split == "train" else 1))
    y = np.arange(n) % num_classes
    rng.shuffle(y)
    x = np.zeros((n, 32, 32, 3), np.uint8)
    perms = [(0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (2, 1, 0), (1, 0, 2)]
    for cls in range(num_classes):
        idx = np.flatnonzero(y == cls)
        if len(idx) == 0:
            continue
        img = _image(_CIFAR_SOURCES[cls % 10])
        img = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3]
        variant = cls // 10
        img = np.rot90(img[..., list(perms[variant % 6])], k=variant // 6)
        h, w = img.shape[:2]
        for i in idx:
            size = int(rng.integers(min(h, w) // 3, min(h, w) // 2 + 1))
            r0, c0 = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
            crop = resize(img[r0:r0 + size, c0:c0 + size], (32, 32), order=1, anti_aliasing=True, preserve_range=True)
            x[i] = np.clip(crop * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)
    name = "cifar10" if num_classes == 10 else "cifar100"
    return x, y.astype(np.uint8), Source(
        name, "substitute", f"course_lib crops of embedded photographs (seed={seed})",
        note=f"not {name.upper()}: crops of {len(_CIFAR_SOURCES)} photographs")
