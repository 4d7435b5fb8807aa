"""A fake phone camera for Chromium: a Y4M video made from screenshots.

Chromium started with ``--use-fake-device-for-media-stream`` and
``--use-file-for-fake-video-capture=<file>.y4m`` gives ``getUserMedia`` that file as the camera,
looping. The file is read when a capture starts, so a test may write it just before the app
opens the camera, from a screenshot of a QR code that is fresh at that moment.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

WIDTH, HEIGHT = 640, 480


def _frame(png: bytes) -> bytes:
    """One 4:2:0 frame: the picture centred on white, as a camera held over the screen sees it."""
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    picture.thumbnail((HEIGHT - 40, HEIGHT - 40))
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    canvas.paste(picture, ((WIDTH - picture.width) // 2, (HEIGHT - picture.height) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    return (
        b"FRAME\n"
        + y.tobytes()
        + cb.resize(half, Image.Resampling.BILINEAR).tobytes()
        + cr.resize(half, Image.Resampling.BILINEAR).tobytes()
    )


def write_y4m(
    path: Path, screenshots: Sequence[bytes], *, fps: int = 10, seconds_each: float = 0.5
) -> None:
    """The screenshots in order, each shown for ``seconds_each``; written atomically."""
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode()
    repeat = max(1, round(fps * seconds_each))
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        out.write(header)
        for png in screenshots:
            frame = _frame(png)
            for _ in range(repeat):
                out.write(frame)
    tmp.replace(path)
