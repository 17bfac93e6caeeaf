"""The lexical baseline encoder: TF-IDF over jieba tokens, L2-normalised sparse rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from indexer.segment import tokens
from plugin.errors import EncoderError

TFIDF_JIEBA = "tfidf-jieba"


class TfidfJiebaEncoder:
    """scikit-learn ``TfidfVectorizer`` over ``indexer.segment.tokens``; fit before encoding.

    ``kind`` is accepted for the Encoder interface and ignored: queries and passages are
    cut the same way.
    """

    name = TFIDF_JIEBA

    def __init__(self, *, sublinear_tf: bool = True) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(
            tokenizer=tokens,
            lowercase=False,
            token_pattern=None,
            sublinear_tf=sublinear_tf,
            norm="l2",
        )
        self._fitted = False

    def fit(self, texts: Sequence[str]) -> TfidfJiebaEncoder:
        self._vectorizer.fit(list(texts))
        self._fitted = True
        return self

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> Any:
        """A scipy CSR matrix, one L2-normalised row per text (all-zero for unknown words)."""
        if not self._fitted:
            raise EncoderError(f"{TFIDF_JIEBA}: call fit() on the fit texts before encode()")
        return self._vectorizer.transform(list(texts))
