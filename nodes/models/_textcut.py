"""What a text encoder leaves out of a text longer than it reads, said once as a warning: the
words past its limit change nothing, and libraries cut them silently (CLAP) or with a raw line per
call (Stable Audio's T5 through diffusers: 17 copies for 17 windows; QA57)."""
from __future__ import annotations

from typing import Any

__all__ = ["cut_said"]


def cut_said(tokenizer: Any, text: str, limit: int, what: str = "text", reader: str = "this checkpoint") -> str:
    """The warning for ``text`` cut by ``tokenizer`` at ``limit`` tokens (special tokens included), or
    "" when it fits: the token count, the limit and the last words read."""
    from .layer import quiet_transformers
    with quiet_transformers():         # (a T5 tokenizer says "Token indices sequence length ..." raw)
        whole = len(tokenizer.tokenize(text)) + tokenizer.num_special_tokens_to_add()
        if whole <= limit:
            return ""
        kept = tokenizer(text, truncation=True, max_length=limit)["input_ids"]
    read = tokenizer.decode(kept, skip_special_tokens=True).strip()
    tail = " ".join(read.split()[-6:])
    return (f"{what}: {whole} tokens, and {reader} reads {limit}: the words after '...{tail}' "
            f"({max(len(text.strip()) - len(read), 0)} characters) change nothing; shorten it")
