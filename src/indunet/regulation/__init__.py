"""Regulation (监管): enterprise cyber security grading (工业互联网企业网络安全分类分级) and
notices with their disposal loop (通报处置), at one instance and across the federation
(docs/regulation/)."""

from .service import Regulation

__all__ = ["Regulation"]
