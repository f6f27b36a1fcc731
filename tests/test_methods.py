"""The tasks' method table and parameter checks: errors name the parameter as name=value, the CLI shows the
flag instead; a task's model must restore what the task needs."""

import pytest

from pixelsmith import UsageError
from pixelsmith.cli import flag_message
from pixelsmith.pipelines import methods as M


@pytest.mark.parametrize("check,value,words", [
    (M.check_sigma, -1, "sigma=-1 is out of range; accepted: 0 to 255"),
    (M.check_sigma, 300, "sigma=300 is out of range"),
    (M.check_scale, 5, "scale=5 is not supported; accepted: 2, 3, 4"),
    (M.check_quality, 0, "quality=0 is out of range; accepted: 1 to 100"),
    (M.check_iterations, 0, "iterations=0 must be at least 1"),
    (M.check_task, "paint", "task=paint is not known; accepted: denoise, inpaint, sr, deblur, jpeg"),
])
def test_bad_values_name_the_parameter(check, value, words):
    with pytest.raises(UsageError) as info:
        check(value)
    assert words in str(info.value)


def test_good_values_pass():
    for check, value in ((M.check_sigma, None), (M.check_sigma, 0), (M.check_sigma, 255), (M.check_scale, 4),
                         (M.check_quality, None), (M.check_quality, 100), (M.check_iterations, None)):
        check(value)


def test_every_task_accepts_the_learned_method_and_refuses_others_by_name():
    for task, methods in M.METHODS.items():
        assert methods[0] == "model"
        for method in methods:
            M.check_method(task, method)
        with pytest.raises(UsageError, match=f"method=nope is not known for {task}; accepted: {', '.join(methods)}"):
            M.check_method(task, "nope")


@pytest.mark.parametrize("message,shown", [
    ("scale=5 is not supported; accepted: 2, 3, 4", "--scale 5 is not supported; accepted: 2, 3, 4"),
    ("x.png exists; pass overwrite=True to replace it", "x.png exists; pass --overwrite to replace it"),
    ("max_pixels=10 too small", "--max-pixels 10 too small"),
    ("n=0: the number of images must be at least 1", "-n 0: the number of images must be at least 1"),
    ("label=12 is out of range", "--class 12 is out of range"),
    ("with ensemble=False it is faster; bf16=False is slower", "with --fast it is faster; --fp32 is slower"),
    ("/data/photos/noisy.png: no such file", "/data/photos/noisy.png: no such file"),
    ("objective_args.n_critic=0 must be at least 1", "objective_args.n_critic=0 must be at least 1"),
])
def test_the_cli_shows_flags_for_parameters(message, shown):
    assert flag_message(message) == shown


def test_each_task_loads_its_default_model_and_refuses_one_that_restores_something_else():
    for task in M.TASKS:
        net = M.load_restorer(task)
        assert net.config["restores"] == M.NEEDS[task]
    with pytest.raises(UsageError, match="model=resunet-jpeg-gray is not a model for denoise .it restores 'jpeg'"):
        M.load_restorer("deblur", "resunet-jpeg-gray")
    with pytest.raises(UsageError, match="model=dcgan-mnist is not a model for inpaint .it is a 'generate' model"):
        M.load_restorer("inpaint", "dcgan-mnist")


def test_a_saved_restorer_that_does_not_say_what_it_restores_is_refused_with_the_fix(tmp_path):
    from pixelsmith.hub import save_pretrained
    from pixelsmith.registry import create_model

    model = create_model("resunet", widths=[8, 16], blocks=1)
    save_pretrained(model, tmp_path / "plain")
    with pytest.raises(UsageError, match="does not say what it restores.*restores'] = 'denoise'"):
        M.load_restorer("denoise", str(tmp_path / "plain"))
    model.config["restores"] = "denoise"
    save_pretrained(model, tmp_path / "denoiser")
    assert M.load_restorer("denoise", str(tmp_path / "denoiser")).config["restores"] == "denoise"
