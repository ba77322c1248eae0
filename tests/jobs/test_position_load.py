"""jobs/position_load.py's decoding of one answer, as the helper process hands it back."""

from __future__ import annotations

import numpy as np
import pytest
from solders.keypair import Keypair

from chain.answer_process import AccountsBlob
from jobs.position_load import _decode
from program import layouts


def test_an_answer_decodes_in_order_and_data_of_the_wrong_size_is_refused_by_name() -> None:
    keys = [Keypair().pubkey() for _ in range(3)]
    records = np.zeros(3, dtype=layouts.POSITION)
    records["size"] = [1, 2, 3]
    blob = AccountsBlob(b"".join(bytes(k) for k in keys), records.tobytes(), 3)
    got_keys, got = _decode(blob)
    assert got_keys == keys and got["size"].tolist() == [1, 2, 3]
    short = AccountsBlob(blob.addresses, blob.data[:-1], 3)
    with pytest.raises(ValueError, match=f"a Position answer of 3 accounts has "
                                         f"{3 * layouts.POSITION.itemsize - 1} bytes of data"):
        _decode(short)
