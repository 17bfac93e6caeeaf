"""Matplotlib for reports: headless, and able to draw Chinese labels when a CJK font exists."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

# Fonts with CJK glyphs, tried in order (Debian: fonts-wqy-zenhei, fonts-noto-cjk).
CJK_FONTS = ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Droid Sans Fallback")
CJK_FILE_HINTS = ("wqy", "notosanscjk", "droidsansfallback")


@cache
def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, falling back to a CJK font per glyph.

    Raises:
        ImportError: matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    fallbacks = _cjk_fonts(font_manager)
    if not fallbacks:  # installed after matplotlib cached its font list: register the files
        for path in font_manager.findSystemFonts():
            if any(hint in path.lower() for hint in CJK_FILE_HINTS):
                font_manager.fontManager.addfont(path)
        fallbacks = _cjk_fonts(font_manager)
    if fallbacks:
        plt.rcParams["font.family"] = ["DejaVu Sans", *fallbacks]
        # WenQuanYi has one weight ("Book"): matplotlib says so once per figure otherwise.
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    return plt


def _cjk_fonts(font_manager: Any) -> list[str]:
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in installed]
