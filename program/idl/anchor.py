"""The generated IDL as anchorpy reads it, for building instructions and decoding accounts and
events (the keepers', the indexer's and the in-process SVM's alike)."""

from __future__ import annotations

from anchorpy import Idl

from program.idl.generate import IDL_PATH


def load_idl() -> Idl:
    """The program's IDL (`program/idl/keepernet.json`), parsed by anchorpy."""
    return Idl.from_json(IDL_PATH.read_text())
