"""toolkit.data.digits: the shipped file is the one we checked, and the splits are seeded and disjoint."""

from __future__ import annotations

import gzip
import hashlib
import re
from importlib import resources
from pathlib import Path

import pytest
import torch

from toolkit import data

PACKAGE_FILE = resources.files("toolkit") / "datasets" / data.DIGITS_FILE


def test_the_shipped_file_has_the_recorded_checksum():
    raw = PACKAGE_FILE.read_bytes()
    assert len(raw) == 57523
    assert hashlib.sha256(raw).hexdigest() == data.DIGITS_SHA256
    readme = (Path(str(PACKAGE_FILE)).parent / "README.md").read_text(encoding="utf-8")
    assert data.DIGITS_SHA256 in readme and "CC BY 4.0" in readme and "10.24432/C50P49" in readme


def test_the_file_holds_1797_images_of_8x8_pixels_from_0_to_16_and_ten_labels():
    rows = gzip.decompress(PACKAGE_FILE.read_bytes()).decode("ascii").split()
    assert len(rows) == data.DIGITS_COUNT == 1797
    values = [row.split(",") for row in rows]
    assert all(len(row) == 65 for row in values)
    assert all(re.fullmatch(r"\d+", v) for row in values for v in row)       # whole numbers only
    table = torch.tensor([[int(v) for v in row] for row in values])
    assert table[:, :64].min() == 0 and table[:, :64].max() == 16
    counts = torch.bincount(table[:, 64])
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_the_first_image_is_a_zero():
    # The first row of the file, drawn as 8 x 8: a ring of ink around an empty middle.
    table = data._digits_table()
    image = table[0, :64].reshape(8, 8)
    assert table[0, 64] == 0
    assert image[3:5, 3:5].sum() == 0 and image[:, 1:3].sum() > 30 and image[:, 5:7].sum() > 30


def test_the_default_splits():
    train, validation, test = data.digits()
    assert [len(part.x) for part in (train, validation, test)] == [1000, 400, 397]
    for part in (train, validation, test):
        assert part.x.shape[1] == 64 and part.x.dtype == torch.float64 and part.y.dtype == torch.long
        assert part.x.min() >= 0 and part.x.max() <= 1
        assert torch.equal(part.x * 16, (part.x * 16).round())       # the counts / 16, exactly
        assert set(part.y.tolist()) == set(range(10))


def test_the_splits_are_disjoint_and_together_hold_every_image():
    parts = data.digits(validation=300, test=200, seed=5)
    rows = torch.cat([torch.cat([p.x * 16, p.y.unsqueeze(1).double()], dim=1) for p in parts]).long()
    table = data._digits_table()
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, table.tolist()))


def test_the_seed_decides_the_split_and_the_test_part_depends_on_nothing_else():
    a, b, c = data.digits(seed=1), data.digits(seed=1), data.digits(seed=2)
    assert all(torch.equal(p.x, q.x) and torch.equal(p.y, q.y) for p, q in zip(a, b))
    assert not torch.equal(a.train.x, c.train.x)
    other = data.digits(validation=100, test=397, seed=1)
    assert torch.equal(other.test.x, a.test.x) and torch.equal(other.test.y, a.test.y)
    assert len(other.train.x) == 1797 - 100 - 397


def test_device_and_dtype(device):
    parts = data.digits(device=device, dtype=torch.float32)
    for part in parts:
        assert part.x.device.type == device and part.y.device.type == device
        assert part.x.dtype == torch.float32
    cpu = data.digits()
    torch.testing.assert_close(parts.validation.x.cpu(), cpu.validation.x.float(), rtol=0, atol=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(validation=0), "validation"),
    (dict(test=-3), "test"),
    (dict(validation=2.5), "validation"),
    (dict(test=True), "test"),
    (dict(validation=1000, test=797), "leave images to train on"),
])
def test_bad_sizes_are_refused_in_one_line(kwargs, match):
    with pytest.raises(ValueError, match=match) as error:
        data.digits(**kwargs)
    assert "\n" not in str(error.value)


def test_a_damaged_file_is_refused(monkeypatch):
    data._digits_table.cache_clear()
    monkeypatch.setattr(data, "DIGITS_SHA256", "0" * 64)
    try:
        with pytest.raises(ValueError, match="SHA-256"):
            data.digits()
    finally:
        data._digits_table.cache_clear()
