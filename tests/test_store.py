"""The model store: one shared model per folder while its files are unchanged, a new one when they change,
bounded, and safe to use from several threads."""

import threading

import pytest
import torch

from pixelsmith.hub import save_pretrained
from pixelsmith.pipelines.store import ModelStore, load_model
from pixelsmith.registry import create_model


def tiny(seed: int):
    torch.manual_seed(seed)
    return create_model("resunet", widths=[8, 16], blocks=1)


def test_the_same_folder_gives_the_same_model(tmp_path):
    save_pretrained(tiny(0), tmp_path / "m")
    store = ModelStore()
    assert store.get(tmp_path / "m") is store.get(str(tmp_path / "m"))
    assert load_model("resunet-denoise-gray") is load_model("resunet-denoise-gray")


def test_a_run_folder_and_its_model_folder_are_one_model(tmp_path):
    save_pretrained(tiny(0), tmp_path / "run" / "model")
    store = ModelStore()
    assert store.get(tmp_path / "run") is store.get(tmp_path / "run" / "model")


def test_a_retrained_folder_is_loaded_anew(tmp_path):
    store = ModelStore()
    save_pretrained(tiny(0), tmp_path / "m")
    first = store.get(tmp_path / "m")
    retrained = tiny(1)
    save_pretrained(retrained, tmp_path / "m")
    second = store.get(tmp_path / "m")
    assert second is not first
    for a, b in zip(second.state_dict().values(), retrained.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert len(store) == 1  # the old version of the folder is gone


def test_least_recently_used_goes_first(tmp_path):
    store = ModelStore(capacity=2)
    for name in "abc":
        save_pretrained(tiny(0), tmp_path / name)
    a, b = store.get(tmp_path / "a"), store.get(tmp_path / "b")
    assert store.get(tmp_path / "a") is a  # a is now the most recent
    c = store.get(tmp_path / "c")  # b, the least recent, goes
    assert len(store) == 2
    assert store.get(tmp_path / "a") is a and store.get(tmp_path / "c") is c
    assert store.get(tmp_path / "b") is not b  # loaded anew


def test_threads_asking_at_once_share_one_model(tmp_path):
    save_pretrained(tiny(0), tmp_path / "m")
    store, got, start = ModelStore(), [], threading.Barrier(8)

    def ask():
        start.wait()
        got.append(store.get(tmp_path / "m"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(m is got[0] for m in got)


def test_bad_capacity_and_missing_model(tmp_path):
    from pixelsmith import PixelsmithError

    with pytest.raises(ValueError, match="capacity"):
        ModelStore(capacity=0)
    with pytest.raises(PixelsmithError, match="no model at"):
        ModelStore().get(tmp_path / "nothing")
