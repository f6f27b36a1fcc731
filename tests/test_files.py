"""Files and folders (pipelines.files): which output each input goes to, nothing overwritten or half-written,
one bad file of a folder not stopping the rest, and shards that split a folder between torchrun ranks."""

import pytest
import torch
from conftest import gen

from pixelsmith import Cancelled, PixelsmithError, UsageError
from pixelsmith.io import read_image, write_image
from pixelsmith.pipelines.files import FilesResult, plan_outputs, process_files


def invert(image, progress):
    return 1 - image.pixels


@pytest.fixture
def folder(tmp_path):
    """in/ with 7 gray PNGs in two subfolders."""
    for i in range(7):
        write_image(tmp_path / "in" / f"sub{i % 2}" / f"{i}.png", torch.rand(1, 16, 16, generator=gen(i)))
    return tmp_path


def relative(paths, root):
    return {p.relative_to(root).as_posix() for p in paths}


def test_a_folder_keeps_its_relative_paths_in_the_format_asked(folder):
    pairs = plan_outputs(folder / "in", folder / "out", "jpg")
    assert relative((dst for _, dst in pairs), folder / "out") == {f"sub{i % 2}/{i}.jpg" for i in range(7)}
    assert all(dst.stem == src.stem for src, dst in pairs)


def test_a_file_goes_to_the_target_or_into_a_target_folder(tmp_path):
    write_image(tmp_path / "a.png", torch.zeros(1, 4, 4))
    (tmp_path / "out").mkdir()
    assert plan_outputs(tmp_path / "a.png", tmp_path / "b.tif", "png") == [(tmp_path / "a.png", tmp_path / "b.tif")]
    assert plan_outputs(tmp_path / "a.png", tmp_path / "out", "webp") == [(tmp_path / "a.png",
                                                                           tmp_path / "out" / "a.webp")]


def test_plans_that_cannot_work_are_refused(tmp_path):
    write_image(tmp_path / "in" / "a.png", torch.zeros(1, 4, 4))
    write_image(tmp_path / "in" / "a.jpg", torch.zeros(1, 4, 4))
    with pytest.raises(UsageError, match="would both be written"):
        plan_outputs(tmp_path / "in", tmp_path / "out", "png")
    with pytest.raises(UsageError, match="format=gif is not accepted"):
        plan_outputs(tmp_path / "in", tmp_path / "out", "gif")
    with pytest.raises(UsageError, match="unknown output format"):
        plan_outputs(tmp_path / "in" / "a.png", tmp_path / "o.xyz", "png")
    write_image(tmp_path / "file.png", torch.zeros(1, 4, 4))
    with pytest.raises(UsageError, match="is a folder, so the output must be a folder"):
        plan_outputs(tmp_path / "in", tmp_path / "file.png", "png")
    with pytest.raises(PixelsmithError, match="no such file or folder"):
        plan_outputs(tmp_path / "missing.png", tmp_path / "o.png", "png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PixelsmithError, match="no images"):
        plan_outputs(tmp_path / "empty", tmp_path / "out", "png")


def test_a_folder_is_processed_and_existing_outputs_are_skipped(folder):
    first = process_files(folder / "in", folder / "out", invert)
    assert isinstance(first, FilesResult) and not first.errors and not first.skipped
    assert relative(first.written, folder / "out") == {f"sub{i % 2}/{i}.png" for i in range(7)}
    source, result = read_image(folder / "in" / "sub1" / "3.png"), read_image(folder / "out" / "sub1" / "3.png")
    assert torch.allclose(result.pixels, 1 - source.pixels, atol=1 / 255)
    stamp = (folder / "out" / "sub1" / "3.png").stat().st_mtime_ns
    again = process_files(folder / "in", folder / "out", invert)
    assert not again.written and len(again.skipped) == 7
    assert (folder / "out" / "sub1" / "3.png").stat().st_mtime_ns == stamp
    replaced = process_files(folder / "in", folder / "out", invert, overwrite=True)
    assert len(replaced.written) == 7 and not replaced.skipped


def test_an_existing_single_output_is_refused_unless_overwrite(tmp_path):
    write_image(tmp_path / "a.png", torch.full((1, 4, 4), 0.25))
    write_image(tmp_path / "b.png", torch.zeros(1, 4, 4))
    with pytest.raises(PixelsmithError, match="exists; pass overwrite=True"):
        process_files(tmp_path / "a.png", tmp_path / "b.png", invert)
    assert read_image(tmp_path / "b.png").pixels.max() == 0
    assert process_files(tmp_path / "a.png", tmp_path / "b.png", invert, overwrite=True).written == [tmp_path / "b.png"]
    assert torch.allclose(read_image(tmp_path / "b.png").pixels, torch.full((1, 4, 4), 0.75), atol=1 / 255)


def test_one_bad_file_of_a_folder_fails_alone(folder):
    (folder / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = process_files(folder / "in", folder / "out", invert)
    assert len(result.written) == 7 and len(result.errors) == 1 and "broken.png" in result.errors[0]
    assert not (folder / "out" / "broken.png").exists()
    with pytest.raises(PixelsmithError, match="broken.png"):  # a single file's error is raised
        process_files(folder / "in" / "broken.png", folder / "b.png", invert)


def test_a_usage_error_stops_a_folder_at_once(folder):
    def refuse(image, progress):
        raise UsageError("sigma=-1 is out of range")

    with pytest.raises(UsageError, match="sigma=-1"):
        process_files(folder / "in", folder / "out", refuse)
    assert not list((folder / "out").rglob("*.png"))


def test_a_transform_may_return_an_image_with_alpha(tmp_path):
    write_image(tmp_path / "a.png", torch.full((3, 4, 4), 0.5))

    def with_alpha(image, progress):
        from dataclasses import replace

        return replace(image, alpha=torch.zeros(1, 4, 4))

    process_files(tmp_path / "a.png", tmp_path / "b.png", with_alpha)
    assert torch.equal(read_image(tmp_path / "b.png").alpha, torch.zeros(1, 4, 4))


def test_shards_split_a_folder_between_ranks(folder):
    written = {}
    for rank in (0, 1):
        result = process_files(folder / "in", folder / "out", invert, shard=(rank, 2))
        assert not result.errors
        written[rank] = relative(result.written, folder / "out")
    assert written[0] and written[1] and not written[0] & written[1]
    expected = {f"sub{i % 2}/{i}.png" for i in range(7)}
    assert written[0] | written[1] == expected
    assert relative((folder / "out").rglob("*.png"), folder / "out") == expected
    assert {len(w) for w in written.values()} == {3, 4}  # every other file


def test_a_single_file_is_done_once_by_the_first_rank(tmp_path):
    write_image(tmp_path / "a.png", torch.rand(1, 16, 16, generator=gen()))
    done = {rank: process_files(tmp_path / "a.png", tmp_path / "b.png", invert, shard=(rank, 2)).written
            for rank in (1, 0)}
    assert done == {1: [], 0: [tmp_path / "b.png"]} and (tmp_path / "b.png").is_file()


def test_an_output_folder_inside_the_input_is_not_read_again(folder):
    """`restore F -o F/restored`, twice: the second run does not restore its own outputs."""
    source, target = folder / "in", folder / "in" / "restored"
    first = process_files(source, target, invert)
    assert len(first.written) == 7
    second = process_files(source, target, invert, overwrite=True)
    assert relative(second.written, target) == relative(first.written, target)
    assert not (target / "restored").exists()


def test_an_output_may_not_replace_an_input(folder, tmp_path):
    with pytest.raises(UsageError, match="is the input folder"):
        plan_outputs(folder / "in", folder / "in", "png")
    one = folder / "in" / "sub0" / "0.png"
    before = one.read_bytes()
    with pytest.raises(UsageError, match="is an input; writing there would replace it"):
        process_files(one, one, invert, overwrite=True)
    assert one.read_bytes() == before


def test_the_inputs_are_read_before_prepare_runs_once(folder, tmp_path):
    calls = []
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(PixelsmithError, match="zero.png: not a readable image"):
        process_files(tmp_path / "zero.png", tmp_path / "out.png", invert, prepare=lambda: calls.append(1))
    assert calls == []
    process_files(folder / "in", folder / "out", invert, prepare=lambda: calls.append(1))
    assert calls == [1]


def test_a_failing_prepare_stops_a_folder_at_once(folder):
    def broken():
        raise PixelsmithError("no model at 'nowhere'")

    with pytest.raises(PixelsmithError, match="no model at 'nowhere'"):
        process_files(folder / "in", folder / "out", invert, prepare=broken)
    assert not (folder / "out").exists()


def test_a_cancel_says_how_many_outputs_were_written(folder):
    def stop_after_three(event):
        if event.stage == "files" and event.done == 3:
            raise Cancelled

    with pytest.raises(Cancelled) as caught:
        process_files(folder / "in", folder / "out", invert, progress=stop_after_three)
    assert (caught.value.written, caught.value.total) == (3, 7)
    assert len(list((folder / "out").rglob("*.png"))) == 3
    assert not [p for p in (folder / "out").rglob("*") if p.name.endswith(".tmp")]


def test_gifs_in_a_folder_are_restored_or_named(tmp_path):
    """A still GIF in a folder is restored; an animated one is an error of its own, not skipped without a word."""
    from PIL import Image

    (tmp_path / "in").mkdir()
    frames = [Image.new("L", (8, 8), v) for v in (10, 200)]
    frames[0].save(tmp_path / "in" / "anim.gif", save_all=True, append_images=frames[1:])
    Image.new("L", (8, 8), 90).save(tmp_path / "in" / "still.gif")
    result = process_files(tmp_path / "in", tmp_path / "out", invert)
    assert result.written == [tmp_path / "out" / "still.png"]
    assert len(result.errors) == 1 and "anim.gif: an animation of 2 frames" in result.errors[0]
