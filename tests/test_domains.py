"""Two image domains: the derived domains, the folder sources, info.json and the readers.

Each derived domain's transform is checked on small known arrays; then
prepared data with domains is checked for stable bytes (twice the same,
whatever other domains are listed), pairing with the base records, and
`verify_prepared` catching a damaged domain. The folder sources run on
folders of tiny PNGs written here, and each mistake in them goes through
the real stage command once: one line, exit code 2, nothing written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from bad_images import write_png16_rgb
from PIL import Image
from test_data_integrity import CONTENT_HASH, FILE_MD5
from workspace import TINY_PARAMS, assert_refused, run_stage, snapshot, write_params

from pipeline.data import (
    SplitRecords,
    domain_names,
    load_arrays,
    load_domain,
    load_info,
    verify_prepared,
)
from pipeline.data.domains import DOMAINS, colour, edges, low_res, masked, negative
from pipeline.data.prepare import _name_key, prepare_dataset
from pipeline.data.sources import AlignedFolder, UnalignedFolders
from pipeline.errors import PipelineError
from pipeline.params import ParamsError, PrepareParams, parse_params

ALL = list(DOMAINS)
RNG = np.random.default_rng(0)


def _files(directory: Path) -> dict[str, str]:
    """Every file under `directory` and the sha256 of its bytes."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _uint8(images: np.ndarray) -> np.ndarray:
    """Reader output in [-1, 1] back to the stored bytes (exact for x / 127.5 - 1)."""
    return np.rint((images + 1.0) * 127.5).astype(np.uint8)


# --- each transform on known arrays -----------------------------------------------


def test_negative_is_exact():
    images = RNG.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    assert np.array_equal(negative.transform(images, RNG), 255 - images.astype(np.int64))


def test_low_res_is_the_block_mean_rounded_half_up():
    # Blocks summing to 0, 1, 2, 3 (means 0, .25, .5, .75) and 1020 (255).
    image = np.array([[0, 0, 1, 0, 1, 1, 1, 1, 255, 255], [0, 0, 0, 0, 0, 0, 0, 1, 255, 255]])
    out = low_res.transform(image[None, :, :, None].astype(np.uint8), RNG)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 5, 1)
    assert out[0, 0, :, 0].tolist() == [0, 0, 1, 1, 255]
    images = RNG.integers(0, 256, (2, 6, 4, 3), dtype=np.uint8)
    blocks = images.reshape(2, 3, 2, 2, 2, 3).astype(np.float64).mean(axis=(2, 4))
    assert np.array_equal(low_res.transform(images, RNG), np.floor(blocks + 0.5))
    assert low_res.output_shape((28, 28, 1)) == (14, 14, 1)


@pytest.mark.parametrize("shape", [(27, 28, 1), (28, 7, 3)])
def test_low_res_refuses_an_odd_size_in_one_line(shape):
    with pytest.raises(PipelineError, match="even height and width") as err:
        low_res.output_shape(shape)
    assert "\n" not in str(err.value)


def test_masked_zeroes_the_centred_half_square():
    images = np.full((2, 28, 28, 1), 200, np.uint8)
    out = masked.transform(images, RNG)
    assert masked.extra((28, 28, 1)) == {"hole": {"top": 7, "left": 7, "height": 14, "width": 14}}
    inside = np.zeros((28, 28), bool)
    inside[7:21, 7:21] = True
    assert (out[:, inside] == 0).all() and (out[:, ~inside] == 200).all()
    assert (images == 200).all()  # the input is left alone


def test_edges_are_bright_on_a_step_and_black_elsewhere():
    step = np.zeros((1, 6, 8, 1), np.uint8)
    step[:, :, 4:] = 255
    out = edges.transform(step, RNG)
    assert out.shape == (1, 6, 8, 1) and out.dtype == np.uint8
    assert (out[0, :, 3:5, 0] == 255).all()  # both sides of the step
    assert (out[0, :, :2, 0] == 0).all() and (out[0, :, 6:, 0] == 0).all()
    # A faint step (64, a quarter of the range) scales linearly: 4 * 64 / 2 = 128.
    assert edges.transform((step > 0).astype(np.uint8) * 64, RNG)[0, 0, 3, 0] == 128
    # RGB goes through its luminance: grey RGB gives the grey result.
    assert np.array_equal(edges.transform(np.repeat(step, 3, axis=-1), RNG), out)


def test_colour_paints_stroke_and_background_in_distinct_colours():
    images = np.zeros((64, 4, 4, 1), np.uint8)
    images[:, 1:3, 1:3] = 255  # the stroke
    out = colour.transform(images, np.random.default_rng(5))
    assert out.shape == (64, 4, 4, 3) and out.dtype == np.uint8
    fg, bg = out[:, 1, 1].astype(int), out[:, 0, 0].astype(int)
    assert (np.abs(fg - bg) >= 65).all()
    # Every channel moves the same way: one colour is lighter in all three.
    assert (np.sign(fg - bg) == np.sign(fg - bg)[:, :1]).all()
    assert len({tuple(c) for c in fg}) > 32  # random per image
    assert (np.sign(fg - bg)[:, 0] > 0).any() and (np.sign(fg - bg)[:, 0] < 0).any()
    assert np.array_equal(out, colour.transform(images, np.random.default_rng(5)))


# --- params -------------------------------------------------------------------


def test_domains_param_defaults_empty_and_refuses_repeats_and_unknowns():
    assert PrepareParams().domains == []
    raw = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    raw["prepare"]["domains"] = ["masked", "edges"]
    assert parse_params(raw).prepare.domains == ["masked", "edges"]
    cases = {
        ("edges", "masked", "edges"): "prepare.domains = ['edges', 'masked', 'edges']: "
        "'edges' is listed twice (allowed: each once)",
        ("blur",): "prepare.domains.0 = 'blur': Input should be 'edges', 'negative', 'colour', "
        "'low_res' or 'masked'",
    }
    for names, expected in cases.items():
        raw["prepare"]["domains"] = list(names)
        with pytest.raises(ParamsError) as err:
            parse_params(raw)
        assert expected in str(err.value) and "\n" not in str(err.value)


# --- prepared with domains: stable bytes, paired, verified ------------------------------


@pytest.fixture(scope="module")
def all_domains(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("all") / "prepared"
    prepare_dataset(PrepareParams(domains=ALL), seed=42, out_dir=out)
    return out


def test_default_prepare_is_byte_for_byte_the_one_domain_dataset(tmp_path):
    # The golden values of tests/test_data_integrity.py, from the code before domains.
    for domains in ([], None):
        params = PrepareParams() if domains is None else PrepareParams(domains=domains)
        out = tmp_path / f"prepared-{domains}"
        info = prepare_dataset(params, seed=42, out_dir=out)
        assert info.content_hash == CONTENT_HASH and info.domains == {}
        assert {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in out.iterdir()} == FILE_MD5
        assert "domains" not in json.loads((out / "info.json").read_text())


def test_all_domains_twice_give_the_same_bytes(all_domains, tmp_path):
    again = prepare_dataset(PrepareParams(domains=list(reversed(ALL))), 42, tmp_path / "again")
    assert _files(tmp_path / "again") == _files(all_domains)  # the listed order included
    info = load_info(all_domains)
    assert again == info
    assert info.content_hash == CONTENT_HASH  # the base is untouched by its domains
    assert domain_names(info) == ["A", *ALL]
    assert sorted(p.name for p in (all_domains / "domains").iterdir()) == sorted(ALL)


def test_a_domain_is_the_same_whichever_others_are_listed(all_domains, tmp_path):
    alone = prepare_dataset(PrepareParams(domains=["colour"]), 42, tmp_path / "colour")
    assert list(alone.domains) == ["colour"]
    assert alone.domains["colour"] == load_info(all_domains).domains["colour"]
    for split in ("train", "test"):
        mine = load_domain(tmp_path / "colour", "colour", split)
        theirs = load_domain(all_domains, "colour", split)
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
    other_seed = prepare_dataset(PrepareParams(domains=["colour"]), 7, tmp_path / "seed7")
    assert other_seed.domains["colour"].content_hash != alone.domains["colour"].content_hash


def test_domains_are_paired_with_the_base_records(all_domains):
    info = load_info(all_domains)
    for split, number in (("train", 0), ("test", 1)):
        base, labels = load_arrays(all_domains, split)
        pixels = _uint8(base)
        for name in ALL:
            rng = np.random.default_rng([42, _name_key(name), number])
            images, domain_labels = load_domain(all_domains, name, split)
            assert np.array_equal(domain_labels, labels)
            assert np.array_equal(_uint8(images), DOMAINS[name].transform(pixels, rng)), name
            assert info.domains[name].paired
    assert info.domains["masked"].extra == {
        "hole": {"top": 7, "left": 7, "height": 14, "width": 14}
    }
    assert info.domains["low_res"].image_shape == (14, 14, 1)
    assert info.domains["colour"].image_shape == (28, 28, 3)


def test_readers_by_domain_name(all_domains):
    a = load_domain(all_domains, "A", "test")
    expected = load_arrays(all_domains, "test")
    assert all(
        np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(a, expected, strict=True)
    )
    # The same indices of two domains' records are the same scenes.
    indices = np.array([5, 0, 999])
    base = SplitRecords.open(all_domains, "test")
    negatives = SplitRecords.open(all_domains, "test", "negative")
    (images, labels), (neg, neg_labels) = base.take(indices), negatives.take(indices)
    assert np.array_equal(_uint8(neg), 255 - _uint8(images))
    assert np.array_equal(labels, neg_labels)
    with pytest.raises(PipelineError) as err:
        load_domain(all_domains, "B", "test")
    assert str(err.value).startswith(
        "unknown domain 'B' (prepared: A, edges, negative, colour, low_res, masked)"
    )
    with pytest.raises(PipelineError, match="unknown split 'valid'"):
        SplitRecords.open(all_domains, "valid", "edges")


# --- folder sources -----------------------------------------------------------------


def _png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _scene(i: int, width: int = 8) -> np.ndarray:
    """An 8 x `width` grayscale image whose pixels encode `i` (so content can be traced)."""
    return np.full((8, width), 10 * i + 5, np.uint8)


def _unaligned(root: Path, counts: dict[str, int]) -> Path:
    """trainA/ then testA/ hold scenes 0, 1, ... (pixel 5, 15, ...); B's start at scene 10."""
    numbers = {"A": 0, "B": 10}
    for folder, count in counts.items():
        for i in range(count):
            _png(root / folder / f"{i:02d}.png", _scene(numbers[folder[-1]]))
            numbers[folder[-1]] += 1
    return root


def _aligned(root: Path, counts: dict[str, int], rgb: bool = False) -> Path:
    number = 0
    for folder, count in counts.items():
        for _ in range(count):
            pair = np.concatenate([_scene(number), 255 - _scene(number)], axis=1)
            if rgb:
                pair = np.repeat(pair[..., None], 3, axis=-1)
            _png(root / folder / f"img{number:02d}.PNG", pair)  # upper-case suffix on purpose
            number += 1
    return root


def _values(images: np.ndarray) -> list[int]:
    """Each image's (constant) pixel value, sorted."""
    return sorted(int(v) for v in _uint8(images)[:, 0, 0, 0])


@pytest.mark.parametrize("with_test", [False, True])
def test_unaligned_folders(tmp_path, with_test):
    counts = {"trainA": 12, "trainB": 9}
    if with_test:
        counts |= {"testA": 3, "testB": 4}
    root = _unaligned(tmp_path / "cyclegan", counts)
    out = tmp_path / "prepared"
    params = PrepareParams(source=UnalignedFolders(path=str(root)), domains=["edges"])
    info = prepare_dataset(params, seed=1, out_dir=out)
    assert (info.num_classes, info.class_names, info.image_shape) == (1, ["unlabelled"], (8, 8, 1))
    assert domain_names(info) == ["A", "B", "edges"]
    b = info.domains["B"]
    assert not b.paired and info.domains["edges"].paired
    if with_test:  # the user's split, kept
        assert (info.splits["train"].count, info.splits["test"].count) == (12, 3)
        assert (b.splits["train"].count, b.splits["test"].count) == (9, 4)
        assert _values(load_arrays(out, "test")[0]) == [125, 135, 145]
        assert _values(load_domain(out, "B", "test")[0]) == [195, 205, 215, 225]
        assert info.split_method == "source" and b.extra == {"split_method": "source"}
    else:  # test_fraction 0.2 of each: round(2.4) and round(1.8)
        assert (info.splits["train"].count, info.splits["test"].count) == (10, 2)
        assert (b.splits["train"].count, b.splits["test"].count) == (7, 2)
        assert info.split_method == "stratified"
    a_all = np.concatenate([load_domain(out, "A", s)[0] for s in ("train", "test")])
    b_all = np.concatenate([load_domain(out, "B", s)[0] for s in ("train", "test")])
    assert _values(a_all) == [10 * i + 5 for i in range(counts["trainA"] + counts.get("testA", 0))]
    assert _values(b_all) == [10 * i + 105 for i in range(9 + counts.get("testB", 0))]
    assert (load_domain(out, "B", "train")[1] == 0).all()
    assert verify_prepared(out) == info


@pytest.mark.parametrize("with_test", [False, True])
def test_aligned_folder(tmp_path, with_test):
    counts = {"train": 12, **({"test": 3} if with_test else {})}
    root = _aligned(tmp_path / "pix2pix", counts, rgb=with_test)
    out = tmp_path / "prepared"
    info = prepare_dataset(PrepareParams(source=AlignedFolder(path=str(root))), 3, out)
    channels = 3 if with_test else 1
    assert info.image_shape == info.domains["B"].image_shape == (8, 8, channels)
    assert info.domains["B"].paired
    assert info.splits["test"].count == (3 if with_test else 2)
    for split in ("train", "test"):
        a, b = load_domain(out, "A", split), load_domain(out, "B", split)
        # Record i of B is the right half of the file whose left half is A's record i.
        assert np.array_equal(_uint8(b[0]), 255 - _uint8(a[0]))
        assert np.array_equal(a[1], b[1])
    if with_test:
        assert _values(load_arrays(out, "test")[0]) == [125, 135, 145]


def test_an_unpaired_domain_too_small_to_split_is_refused_before_writing(tmp_path):
    root = _unaligned(tmp_path / "cyclegan", {"trainA": 12, "trainB": 2})
    params = PrepareParams(source=UnalignedFolders(path=str(root)))
    with pytest.raises(PipelineError) as err:
        prepare_dataset(params, 0, tmp_path / "prepared")
    assert "(domain B): class 0 ('unlabelled') has 2 example(s) and prepare.test_fraction" in str(
        err.value
    )
    assert not (tmp_path / "prepared").exists()


def test_derived_domains_of_a_folder_source_refuse_before_writing(tmp_path):
    root = tmp_path / "odd"
    for i in range(6):
        _png(root / "train" / f"{i}.png", np.zeros((7, 14), np.uint8))
    params = PrepareParams(source=AlignedFolder(path=str(root)), domains=["low_res"])
    with pytest.raises(PipelineError, match="they are 7x7 .allowed: an even height and width"):
        prepare_dataset(params, 0, tmp_path / "prepared")
    assert not (tmp_path / "prepared").exists()


# --- verify: a damaged domain is refused in one line -----------------------------------


@pytest.fixture(scope="module")
def small_domains(tmp_path_factory) -> Path:
    """An aligned folder (B, paired) with two derived domains: cheap to copy and verify."""
    base = tmp_path_factory.mktemp("small")
    root = _aligned(base / "pix2pix", {"train": 12})
    out = base / "prepared"
    params = PrepareParams(source=AlignedFolder(path=str(root)), domains=["edges", "masked"])
    prepare_dataset(params, 0, out)
    return out


def _flip(relative: str):
    def damage(d: Path) -> None:
        data = bytearray((d / relative).read_bytes())
        data[3] ^= 1
        (d / relative).write_bytes(bytes(data))

    return damage


def _edit(edit):
    def damage(d: Path) -> None:
        raw = json.loads((d / "info.json").read_text())
        edit(raw)
        (d / "info.json").write_text(json.dumps(raw))

    return damage


DOMAIN_DAMAGE = {
    "flipped byte": (
        _flip("domains/edges/test-00000-of-00001.bin"),
        "domains/edges: its shards hash to",
    ),
    "truncated shard": (
        lambda d: (d / "domains/B/train-00000-of-00001.bin").write_bytes(b"\0" * 8),
        "domains/B/train-00000-of-00001.bin: 8 bytes, expected 720",
    ),
    "deleted shard": (
        lambda d: (d / "domains/masked/test-00000-of-00001.bin").unlink(),
        "domains/masked/test-00000-of-00001.bin: shard is missing",
    ),
    "stray shard": (
        lambda d: shutil.copy(
            d / "domains/edges/test-00000-of-00001.bin", d / "domains/edges/test-00001-of-00002.bin"
        ),
        "domains/edges/test-00001-of-00002.bin: a shard file that info.json does not list",
    ),
    "stray domain": (
        lambda d: shutil.copytree(d / "domains/edges", d / "domains/negative"),
        "domains/negative: a domain folder that info.json does not list (it lists B, edges, "
        "masked)",
    ),
    "paired counts": (
        _edit(
            lambda r: r["domains"]["edges"]["splits"]["train"].update(
                count=3, class_counts=[3], shard_records=[3]
            )
        ),
        "domains.edges.paired is true, but its splits.train has 3 examples",
    ),
    "domain named A": (
        _edit(lambda r: r["domains"].update(A=r["domains"].pop("edges"))),
        "not a valid info record (ValueError: domain name 'A'",
    ),
}


@pytest.mark.parametrize("case", sorted(DOMAIN_DAMAGE))
def test_a_damaged_domain_is_refused_in_one_line(small_domains, tmp_path, case):
    damage, expected = DOMAIN_DAMAGE[case]
    data_dir = tmp_path / "prepared"
    shutil.copytree(small_domains, data_dir)
    verify_prepared(data_dir)
    damage(data_dir)
    with pytest.raises(PipelineError) as err:
        load_domain(data_dir, "A", "train")  # any read checks every domain
    message = str(err.value)
    assert "\n" not in message and expected in message and "dvc repro prepare" in message


# --- each folder mistake through the stage: one line, exit 2, nothing written -------------


def _mixed_sizes(root: Path) -> None:
    _unaligned(root, {"trainA": 3, "trainB": 3})
    _png(root / "trainB" / "09.png", np.zeros((8, 9), np.uint8))


def _mixed_modes(root: Path) -> None:
    _unaligned(root, {"trainA": 3, "trainB": 3, "testA": 2})
    _png(root / "testA" / "05.png", np.zeros((8, 8, 3), np.uint8))


def _broken(name: str, write: Callable[[Path], object]):
    def make(root: Path) -> None:
        _unaligned(root, {"trainA": 3, "trainB": 3})
        write(root / "trainA" / name)

    return make


FOLDER_MISTAKES = {
    "missing trainB": (
        "unaligned_folders",
        lambda root: _unaligned(root, {"trainA": 3}),
        "trainB is not a folder (expected CycleGAN's layout: trainA/ and trainB/",
    ),
    "no images in testB": (
        "unaligned_folders",
        lambda root: (_unaligned(root, {"trainA": 3, "trainB": 3}), (root / "testB").mkdir()),
        "testB: no images (allowed: .png, .jpg, .jpeg, .webp files, any case)",
    ),
    "mixed sizes": (
        "unaligned_folders",
        _mixed_sizes,
        "trainB/09.png: 9x8 grayscale, but ",
    ),
    "mixed modes": ("unaligned_folders", _mixed_modes, "testA/05.png: 8x8 RGB, but "),
    "zero-byte file": (
        "unaligned_folders",
        _broken("07.png", lambda p: p.write_bytes(b"")),
        "07.png: empty file (0 bytes)",
    ),
    "unreadable file": (
        "unaligned_folders",
        _broken("08.jpg", lambda p: p.write_bytes(b"not an image")),
        "08.jpg: unreadable (UnidentifiedImageError: cannot identify image file",
    ),
    "16-bit file": (
        "unaligned_folders",
        _broken("09.png", write_png16_rgb),
        "09.png: 16 bits per channel (allowed: 8; convert it first)",
    ),
    "GIF named .png": (
        "unaligned_folders",
        _broken("10.png", lambda p: Image.new("L", (8, 8)).save(p, format="GIF")),
        "10.png: a GIF image (allowed: JPEG, PNG, WebP)",
    ),
    "odd A|B width": (
        "aligned_folder",
        lambda root: _png(root / "train" / "a.png", np.zeros((8, 15), np.uint8)),
        "a.png: width 15 is odd (allowed: an even width",
    ),
}


@pytest.mark.parametrize("case", sorted(FOLDER_MISTAKES))
def test_folder_mistakes_are_one_line_through_the_stage(tmp_path, case):
    kind, make, expected = FOLDER_MISTAKES[case]
    make(tmp_path / "data/raw/images")
    source = {"kind": kind, "path": "data/raw/images"}
    write_params(tmp_path, {**TINY_PARAMS, "prepare": {"source": source}})
    before = snapshot(tmp_path)
    done = run_stage(tmp_path, "prepare")
    assert_refused(done, expected)
    assert snapshot(tmp_path) == before  # data/prepared never appeared
