"""Next-frame prediction: Moving-MNIST made on the fly, the public .npy layout and clip folders
(pixelsmith.data.clips), the OpenSTL per-frame MSE, and `pixelsmith predict` with its files and its errors."""

import numpy as np
import pytest
import torch
from conftest import run_main
from PIL import Image

from pixelsmith import PixelsmithError
from pixelsmith.data.clips import ClipArray, ClipFolder, MovingMNIST, read_frames
from pixelsmith.hub import save_pretrained
from pixelsmith.registry import create_model
from pixelsmith.training.predict import frame_mse


def test_moving_mnist_is_seeded_bounded_and_moves_at_the_set_speed(tiny_mnist):
    data = MovingMNIST(tiny_mnist, frames=20, length=8)
    a, b = data[3][0], data[3][0]
    assert a.shape == (20, 1, 64, 64) and torch.equal(a, b) and not torch.equal(a, data[4][0])
    assert not torch.equal(data[3][0], data[3 + 8][0])  # a new epoch brings new sequences
    assert not torch.equal(a, MovingMNIST(tiny_mnist, train=False, length=8)[3][0])
    one = MovingMNIST(tiny_mnist, digits=1, length=8)
    rng = np.random.default_rng(0)
    path = one.trajectory(rng)
    assert path.min() >= 0 and path.max() <= 64 - 28  # the digit stays inside the frame
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert 2.0 < np.median(steps) < 4.5  # 0.1 of the 36 free pixels a frame, rounded to whole pixels


def test_the_public_array_layout_and_clip_folders(tmp_path):
    array = (np.random.default_rng(0).random((20, 3, 64, 64)) * 255).astype(np.uint8)
    np.save(tmp_path / "seq.npy", array)
    clips = ClipArray(tmp_path / "seq.npy", frames=20)
    assert len(clips) == 3 and torch.equal(clips[1][0][5, 0], torch.from_numpy(array[5, 1]).float() / 255)
    with pytest.raises(PixelsmithError, match="fewer than the 30 needed"):
        ClipArray(tmp_path / "seq.npy", frames=30)
    np.save(tmp_path / "bad.npy", array.astype(np.float32))
    with pytest.raises(PixelsmithError, match="accepted: uint8"):
        ClipArray(tmp_path / "bad.npy")

    root = tmp_path / "clips"
    (root / "one").mkdir(parents=True)
    for t in range(6):
        Image.fromarray(array[t, 0]).save(root / "one" / f"{t:03d}.png")
    frames = [Image.fromarray(array[t, 1]) for t in range(6)]
    frames[0].save(root / "two.gif", save_all=True, append_images=frames[1:], duration=100)
    folder = ClipFolder(root, frames=5)
    assert len(folder) == 2 and folder[0][0].shape == (5, 1, 64, 64)
    with pytest.raises(PixelsmithError, match="fewer than the 8 frames"):
        ClipFolder(root, frames=8)
    Image.fromarray(array[0, 0, :32]).save(root / "one" / "999.png")
    with pytest.raises(PixelsmithError, match="mixed sizes"):
        read_frames(root / "one")


def test_frame_mse_sums_over_the_frame_and_averages_over_frames():
    truth = torch.zeros(2, 10, 1, 64, 64)
    prediction = truth.clone()
    prediction[:, :, :, :10, :10] = 0.5  # 100 pixels off by 0.5 in every frame: 25 per frame
    assert frame_mse(prediction, truth).item() == pytest.approx(25.0)


@pytest.fixture
def predictor(tmp_path):
    torch.manual_seed(0)
    model = create_model("convlstm", size=64, hidden=[8], frames_in=4, frames_out=3).eval()
    save_pretrained(model, tmp_path / "model")
    return tmp_path / "model"


def test_predict_writes_the_numbered_frames_a_gif_and_a_strip(tmp_path, capsys, predictor):
    clip = (np.random.default_rng(1).random((6, 64, 64)) * 255).astype(np.uint8)
    np.save(tmp_path / "clip.npy", clip)
    code, out, err = run_main(capsys, "predict", "--model", predictor, tmp_path / "clip.npy", "-o", tmp_path / "out")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["4.png", "5.png", "6.png", "prediction.gif",
                                                                    "strip.png"]
    gif = Image.open(tmp_path / "out" / "prediction.gif")
    assert gif.n_frames == 3 and gif.size == (64, 64)
    strip = Image.open(tmp_path / "out" / "strip.png")
    assert strip.height > 3 * 64  # input, prediction and the truth (the clip's 2 frames after the 4 read)
    code, _, err = run_main(capsys, "predict", "--model", predictor, tmp_path / "clip.npy", "-o", tmp_path / "out")
    assert code == 1 and "exists" in err  # nothing replaced without --overwrite
    code, _, _ = run_main(capsys, "predict", "--model", predictor, tmp_path / "clip.npy", "-o", tmp_path / "five",
                          "--frames", 5)
    assert code == 0 and (tmp_path / "five" / "8.png").is_file()


@pytest.mark.parametrize("make,words", [
    (lambda p: np.save(p / "c.npy", np.zeros((2, 64, 64), np.uint8)), "this model reads 4 frames"),
    (lambda p: np.save(p / "c.npy", np.zeros((6, 62, 64), np.uint8)), "sides multiples of 4"),
    (lambda p: (p / "c.npy").write_bytes(b"not an array"), "not a readable .npy"),
])
def test_predict_refuses_bad_clips_in_one_line(tmp_path, capsys, predictor, make, words):
    make(tmp_path)
    code, _, err = run_main(capsys, "predict", "--model", predictor, tmp_path / "c.npy", "-o", tmp_path / "out")
    assert code in (1, 2) and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_predict_refuses_a_model_that_is_not_a_predictor(tmp_path, capsys):
    np.save(tmp_path / "c.npy", np.zeros((10, 64, 64), np.uint8))
    code, _, err = run_main(capsys, "predict", "--model", "dcgan-mnist", tmp_path / "c.npy", "-o", tmp_path / "o")
    assert code == 2 and "needs a 'predict' model" in err
